package org.vmspace.vkernel.net;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.host.HostSockets;

/**
 * The descriptions in flight (SCM_RIGHTS) on the host: a token's entry keeps its descriptions
 * open until claimed, a peek leaves it, an unsent token releases them at once, and a message the
 * host drops (its receiving socket closed) releases them through the sweep. A host descriptor
 * duplicated from the token stands for the copy a host socket's queue holds.
 */
class InFlightTest {
  /** A description that counts its closes. */
  static final class Counted extends FileDescription {
    int closes;

    Counted() {
      super(Host.O_RDWR);
    }

    @Override
    public String path() {
      return "counted";
    }

    @Override
    public void fstat(MemorySegment stat) {}

    @Override
    protected void close() {
      closes++;
    }
  }

  @Test
  void anUnsentTokenReleasesItsDescriptionsAtOnce() {
    InFlight f = new InFlight();
    Counted a = new Counted();
    Counted b = new Counted();
    InFlight.Token t = f.attach(List.of(a, b));
    assertThat(f.size()).isEqualTo(1);
    assertThat(t.wasSent()).isFalse();
    f.finish(t);
    assertThat(f.size()).isZero();
    assertThat(a.closes).isEqualTo(1);
    assertThat(b.closes).isEqualTo(1);
  }

  @Test
  void aSentTokenKeepsThemUntilClaimedAndAPeekLeavesIt() {
    InFlight f = new InFlight();
    Counted a = new Counted();
    InFlight.Token t = f.attach(List.of(a));
    int queued = Host.dup(t.hostFd());
    t.sent();
    f.finish(t);
    f.sweep();
    assertThat(f.size()).as("the host's copy keeps the entry").isEqualTo(1);
    assertThat(a.closes).isZero();

    List<FileDescription> peeked = f.claim(Host.dup(queued), true);
    assertThat(peeked).containsExactly(a);
    peeked.forEach(FileDescription::release);
    assertThat(a.closes).as("a peek hands out new references").isZero();
    assertThat(f.size()).isEqualTo(1);

    List<FileDescription> got = f.claim(queued, false);
    assertThat(got).containsExactly(a);
    assertThat(f.size()).isZero();
    assertThat(a.closes).isZero();
    got.forEach(FileDescription::release);
    assertThat(a.closes).isEqualTo(1);
  }

  @Test
  void aDroppedMessageIsReleasedByTheSweep() {
    InFlight f = new InFlight();
    Counted a = new Counted();
    InFlight.Token t = f.attach(List.of(a));
    int queued = Host.dup(t.hostFd());
    t.sent();
    f.finish(t);
    Host.close(queued); // the host dropped the message
    assertThat(a.closes).isZero();
    f.sweep();
    assertThat(f.size()).isZero();
    assertThat(a.closes).isEqualTo(1);
  }

  @Test
  void anUnknownTokenGivesNothingAndIsClosed() {
    InFlight f = new InFlight();
    int[] p = Host.pipe2(Host.O_CLOEXEC);
    assertThat(f.claim(p[1], false)).isEmpty();
    try (Arena a = Arena.ofConfined()) {
      // The write end claimed was closed: the read end reads EOF.
      assertThat(Host.read(p[0], a.allocate(1), 1)).isZero();
    }
    Host.close(p[0]);
  }

  /** Sends {@code data} on host socket {@code fd} with {@code token} in an SCM_RIGHTS message. */
  private static void hostSendWithToken(int fd, String data, int token) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment msg = a.allocate(56, 8);
      MemorySegment bytes = a.allocateFrom(data);
      MemorySegment iov = a.allocate(16, 8);
      iov.set(ValueLayout.JAVA_LONG, 0, bytes.address());
      iov.set(ValueLayout.JAVA_LONG, 8, data.length());
      MemorySegment control = a.allocate(24, 8);
      control.set(ValueLayout.JAVA_LONG, 0, 20);
      control.set(ValueLayout.JAVA_INT, 8, Ancillary.SOL_SOCKET);
      control.set(ValueLayout.JAVA_INT, 12, Ancillary.SCM_RIGHTS);
      control.set(ValueLayout.JAVA_INT, 16, token);
      msg.set(ValueLayout.ADDRESS, 16, iov);
      msg.set(ValueLayout.JAVA_LONG, 24, 1);
      msg.set(ValueLayout.ADDRESS, 32, control);
      msg.set(ValueLayout.JAVA_LONG, 40, 24);
      assertThat(HostSockets.sendmsg(fd, msg, 0)).isEqualTo(data.length());
    }
  }

  @Test
  void closingTheReceivingSocketReleasesWhatItHadQueued() {
    UnixNamespace ns = new UnixNamespace();
    UnixSocket[] pair = UnixSocket.pair(ns, UnixSocket.SOCK_STREAM, false, UnixSocket.Creds.NONE);
    Counted a = new Counted();
    InFlight.Token t = ns.inFlight().attach(List.of(a));
    hostSendWithToken(pair[0].hostFd(), "x", t.hostFd());
    t.sent();
    ns.inFlight().finish(t);
    assertThat(ns.inFlight().size()).isEqualTo(1);
    assertThat(a.closes).isZero();
    pair[1].release();
    assertThat(ns.inFlight().size()).isZero();
    assertThat(a.closes).isEqualTo(1);
    pair[0].release();
  }
}
