package org.vmspace.vkernel.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.vmspace.vkernel.fs.HostInode;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/** The AF_UNIX layer on the host: names, the accept queue and its credentials, the backlog. */
class UnixSocketTest {
  private static final UnixSocket.Creds A = new UnixSocket.Creds(10, 1000, 100);
  private static final UnixSocket.Creds B = new UnixSocket.Creds(11, 1001, 101);
  private static final UnixSocket.Creds C = new UnixSocket.Creds(12, 1002, 102);

  private static byte[] abs(String s) {
    byte[] n = s.getBytes(StandardCharsets.US_ASCII);
    byte[] out = new byte[n.length + 1];
    System.arraycopy(n, 0, out, 1, n.length);
    return out;
  }

  private static int errno(Runnable r) {
    try {
      r.run();
    } catch (SyscallError e) {
      return e.errno();
    }
    return 0;
  }

  @Test
  void acceptMatchesConnectorsInOrderWithTheirCredentialsAndNames() {
    UnixNamespace ns = new UnixNamespace();
    UnixSocket server = UnixSocket.create(ns, UnixSocket.SOCK_STREAM, false);
    server.bind(abs("srv"), null);
    server.listen(8, A);
    UnixSocket c1 = UnixSocket.create(ns, UnixSocket.SOCK_STREAM, false);
    c1.bind(abs("one"), null);
    UnixSocket c2 = UnixSocket.create(ns, UnixSocket.SOCK_STREAM, false);
    c1.connect(ns.byAbstract("srv".getBytes(StandardCharsets.US_ASCII)), B);
    c2.connect(server, C);
    assertThat(c1.peerName()).isEqualTo(abs("srv"));
    assertThat(c1.peerCreds()).isEqualTo(A);
    UnixSocket s1 = server.accept(false);
    UnixSocket s2 = server.accept(false);
    assertThat(s1.peerCreds()).isEqualTo(B);
    assertThat(s1.peerName()).isEqualTo(abs("one"));
    assertThat(s1.name()).isEqualTo(abs("srv"));
    assertThat(s2.peerCreds()).isEqualTo(C);
    assertThat(s2.peerName()).isNull();
    assertThat(errno(() -> server.accept(false))).isEqualTo(LinuxErrno.EAGAIN);
    assertThat(errno(() -> c1.connect(server, B))).isEqualTo(LinuxErrno.EISCONN);
    for (UnixSocket s : new UnixSocket[] {server, c1, c2, s1, s2}) {
      s.release();
    }
    assertThat(ns.byAbstract("srv".getBytes(StandardCharsets.US_ASCII))).isNull();
  }

  @Test
  void aFullBacklogIsEagainUntilAnAcceptMakesRoom() {
    UnixNamespace ns = new UnixNamespace();
    UnixSocket server = UnixSocket.create(ns, UnixSocket.SOCK_SEQPACKET, false);
    server.autobind();
    assertThat(server.name()).hasSize(6).startsWith(0);
    server.listen(1, A);
    java.util.List<UnixSocket> clients = new java.util.ArrayList<>();
    int refused = 0;
    for (int i = 0; i < 8 && refused == 0; i++) {
      UnixSocket c = UnixSocket.create(ns, UnixSocket.SOCK_SEQPACKET, false);
      clients.add(c);
      refused = errno(() -> c.connect(server, B));
    }
    assertThat(refused).isEqualTo(LinuxErrno.EAGAIN);
    UnixSocket last = clients.getLast();
    assertThat(errno(() -> last.peerName())).isEqualTo(LinuxErrno.ENOTCONN);
    UnixSocket accepted = server.accept(false);
    last.connect(server, C);
    assertThat(last.peerCreds()).isEqualTo(A);
    accepted.release();
    server.release();
    clients.forEach(UnixSocket::release);
  }

  @Test
  void namesAreCheckedAsLinuxChecksThem() {
    UnixNamespace ns = new UnixNamespace();
    UnixSocket a = UnixSocket.create(ns, UnixSocket.SOCK_STREAM, false);
    UnixSocket b = UnixSocket.create(ns, UnixSocket.SOCK_STREAM, false);
    UnixSocket d = UnixSocket.create(ns, UnixSocket.SOCK_DGRAM, false);
    a.bind(abs("x"), null);
    assertThat(errno(() -> b.bind(abs("x"), null))).isEqualTo(LinuxErrno.EADDRINUSE);
    assertThat(errno(() -> a.bind(abs("y"), null))).isEqualTo(LinuxErrno.EINVAL);
    // bound but not listening, wrong type, nobody
    assertThat(errno(() -> b.connect(a, B))).isEqualTo(LinuxErrno.ECONNREFUSED);
    assertThat(errno(() -> d.connect(a, B))).isEqualTo(LinuxErrno.EPROTOTYPE);
    assertThat(errno(() -> b.connect(null, B))).isEqualTo(LinuxErrno.ECONNREFUSED);
    assertThat(errno(() -> d.listen(1, A))).isEqualTo(LinuxErrno.EOPNOTSUPP);
    HostInode file = new HostInode(1, 2);
    UnixSocket p = UnixSocket.create(ns, UnixSocket.SOCK_STREAM, false);
    p.bind("/tmp/s\0".getBytes(StandardCharsets.US_ASCII), file);
    assertThat(ns.byPath(file)).isSameAs(p);
    p.release();
    assertThat(ns.byPath(file)).isNull();
    a.release();
    b.release();
    d.release();
  }

  @Test
  void aDatagramsSenderIsKnownByItsGuestName() {
    UnixNamespace ns = new UnixNamespace();
    UnixSocket rx = UnixSocket.create(ns, UnixSocket.SOCK_DGRAM, false);
    rx.bind(abs("rx"), null);
    UnixSocket tx = UnixSocket.create(ns, UnixSocket.SOCK_DGRAM, false);
    tx.bind(abs("tx"), null);
    assertThat(rx.guestNameOfHost(tx.hostName())).isEqualTo(abs("tx"));
    assertThat(rx.guestNameOfHost(new byte[0])).isNull();
    tx.connect(rx, B);
    assertThat(tx.peerName()).isEqualTo(abs("rx"));
    // the host names are not guest names: a guest lookup of one finds nothing
    byte[] host = rx.hostName();
    assertThat(ns.byAbstract(java.util.Arrays.copyOfRange(host, 1, host.length))).isNull();
    rx.release();
    tx.release();
  }

  @Test
  void socketPairsCarryTheCreatorsCredentialsAndData() {
    UnixSocket[] p = UnixSocket.pair(new UnixNamespace(), UnixSocket.SOCK_STREAM, false, A);
    assertThat(p[0].peerCreds()).isEqualTo(A);
    assertThat(p[1].peerName()).isNull();
    assertThat(p[0].path()).startsWith("socket:[");
    try (Arena a = Arena.ofConfined()) {
      MemorySegment m = a.allocate(4);
      m.set(ValueLayout.JAVA_INT, 0, 0x01020304);
      assertThat(p[0].write(m, 4)).isEqualTo(4);
      MemorySegment r = a.allocate(4);
      assertThat(p[1].read(r, 4)).isEqualTo(4);
      assertThat(r.get(ValueLayout.JAVA_INT, 0)).isEqualTo(0x01020304);
      assertThatThrownBy(() -> p[1].read(r, 4)).isInstanceOf(SyscallError.class);
    }
    p[0].release();
    p[1].release();
  }
}
