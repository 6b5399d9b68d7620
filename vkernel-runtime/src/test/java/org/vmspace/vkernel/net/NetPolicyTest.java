package org.vmspace.vkernel.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/** The --net policies and the reading of guest socket addresses they rely on (pure logic). */
class NetPolicyTest {
  static byte[] in(int a, int b, int c, int d, int port) {
    byte[] sa = new byte[InetSockAddr.IN_SIZE];
    sa[0] = InetSockAddr.AF_INET;
    sa[2] = (byte) (port >> 8);
    sa[3] = (byte) port;
    sa[4] = (byte) a;
    sa[5] = (byte) b;
    sa[6] = (byte) c;
    sa[7] = (byte) d;
    return sa;
  }

  static byte[] in6(int port, int... ip) {
    byte[] sa = new byte[InetSockAddr.IN6_SIZE];
    sa[0] = InetSockAddr.AF_INET6;
    sa[2] = (byte) (port >> 8);
    sa[3] = (byte) port;
    for (int i = 0; i < 16; i++) {
      sa[8 + i] = (byte) ip[i];
    }
    return sa;
  }

  static final int[] V6_LOOPBACK = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static final int[] V6_ANY = new int[16];
  static final int[] V6_DOC = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static final int[] V4_MAPPED_LOOPBACK = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 9};
  static final int[] V4_MAPPED_REMOTE = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};

  private static int errno(Runnable r) {
    try {
      r.run();
    } catch (SyscallError e) {
      return e.errno();
    }
    return 0;
  }

  @Test
  void namesParseAndOthersAreRefused() {
    assertThat(NetPolicy.parse("host")).isEqualTo(NetPolicy.HOST);
    assertThat(NetPolicy.parse("Loopback")).isEqualTo(NetPolicy.LOOPBACK);
    assertThat(NetPolicy.parse("none")).isEqualTo(NetPolicy.NONE);
    assertThat(NetPolicy.NONE.optionName()).isEqualTo("none");
    assertThatThrownBy(() -> NetPolicy.parse("bridge")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("host, loopback or none");
  }

  @Test
  void familyAndPortAreReadInTheirByteOrders() {
    byte[] sa = in(127, 0, 0, 1, 0x1f90);
    assertThat(InetSockAddr.family(sa)).isEqualTo(InetSockAddr.AF_INET);
    assertThat(InetSockAddr.port(sa)).isEqualTo(8080);
    assertThat(InetSockAddr.family(new byte[1])).isEqualTo(-1);
    assertThat(InetSockAddr.port(new byte[3])).isEqualTo(-1);
  }

  @Test
  void loopbackAndWildcardAddresses() {
    assertThat(InetSockAddr.isLoopback(new byte[] {127, 0, 0, 1})).isTrue();
    assertThat(InetSockAddr.isLoopback(new byte[] {127, 1, 2, 3})).isTrue();
    assertThat(InetSockAddr.isLoopback(new byte[] {(byte) 128, 0, 0, 1})).isFalse();
    assertThat(InetSockAddr.isLoopback(InetSockAddr.destination(in6(1, V6_LOOPBACK), 10, 1, false))).isTrue();
    assertThat(InetSockAddr.isLoopback(InetSockAddr.destination(in6(1, V4_MAPPED_LOOPBACK), 10, 1, false))).isTrue();
    assertThat(InetSockAddr.isLoopback(InetSockAddr.destination(in6(1, V4_MAPPED_REMOTE), 10, 1, false))).isFalse();
    assertThat(InetSockAddr.isLoopback(InetSockAddr.destination(in6(1, V6_DOC), 10, 1, false))).isFalse();
    assertThat(InetSockAddr.isWildcard(new byte[4])).isTrue();
    assertThat(InetSockAddr.isWildcard(new byte[16])).isTrue();
    byte[] mappedAny = new byte[16];
    mappedAny[10] = (byte) 0xff;
    mappedAny[11] = (byte) 0xff;
    assertThat(InetSockAddr.isWildcard(mappedAny)).isTrue();
    assertThat(InetSockAddr.isWildcard(new byte[] {127, 0, 0, 1})).isFalse();
  }

  @Test
  void destinationsAreReadAsLinuxReadsThemPerCallAndSocket() {
    // Too short for the family: no destination (the host says EINVAL).
    assertThat(InetSockAddr.destination(java.util.Arrays.copyOf(in(10, 0, 0, 1, 80), 15), 2, 1, false)).isNull();
    assertThat(InetSockAddr.destination(java.util.Arrays.copyOf(in6(80, V6_DOC), 23), 10, 1, false)).isNull();
    // 24 bytes (no scope id) is enough for IPv6.
    assertThat(InetSockAddr.destination(java.util.Arrays.copyOf(in6(80, V6_DOC), 24), 10, 1, false)).hasSize(16);
    // connect(AF_UNSPEC) dissolves; sendto with AF_UNSPEC on an AF_INET socket is IPv4.
    byte[] unspec = in(10, 0, 0, 1, 53);
    unspec[0] = 0;
    assertThat(InetSockAddr.destination(unspec, 2, 2, false)).isNull();
    assertThat(InetSockAddr.destination(unspec, 2, 2, true)).containsExactly(10, 0, 0, 1);
    // An AF_INET address on an AF_INET6 datagram socket sends IPv4; on a stream socket it is
    // refused (EAFNOSUPPORT by the host), so no destination.
    assertThat(InetSockAddr.destination(in(10, 0, 0, 1, 53), 10, 2, true)).containsExactly(10, 0, 0, 1);
    assertThat(InetSockAddr.destination(in(10, 0, 0, 1, 53), 10, 1, false)).isNull();
    // An AF_INET6 address on an AF_INET socket: the host's EAFNOSUPPORT.
    assertThat(InetSockAddr.destination(in6(53, V6_DOC), 2, 1, false)).isNull();
  }

  @Test
  void bindAddressesAreReadAsLinuxReadsThem() {
    assertThat(InetSockAddr.bindAddress(in(127, 0, 0, 1, 0), 2)).containsExactly(127, 0, 0, 1);
    byte[] unspecAny = in(0, 0, 0, 0, 0);
    unspecAny[0] = 0;
    assertThat(InetSockAddr.bindAddress(unspecAny, 2)).containsExactly(0, 0, 0, 0);
    byte[] unspecOther = in(10, 0, 0, 1, 0);
    unspecOther[0] = 0;
    assertThat(InetSockAddr.bindAddress(unspecOther, 2)).isNull();
    assertThat(InetSockAddr.bindAddress(new byte[8], 2)).isNull();
    assertThat(InetSockAddr.bindAddress(in6(0, V6_LOOPBACK), 10)).hasSize(16);
    assertThat(InetSockAddr.bindAddress(in(127, 0, 0, 1, 0), 10)).isNull();
  }

  @Test
  void hostReachesEverything() {
    NetPolicy.HOST.checkDestination(new byte[] {8, 8, 8, 8});
    NetPolicy.HOST.checkBind(new byte[] {10, 1, 2, 3});
    assertThat(NetPolicy.HOST.admits(new byte[] {8, 8, 8, 8})).isTrue();
    assertThat(NetPolicy.HOST.narrowsWildcard()).isFalse();
  }

  @Test
  void loopbackReachesOnlyLoopbackAndTheWildcards() {
    NetPolicy p = NetPolicy.LOOPBACK;
    p.checkDestination(new byte[] {127, 0, 0, 1});
    p.checkDestination(new byte[] {127, 9, 9, 9});
    p.checkDestination(new byte[4]);
    p.checkDestination(InetSockAddr.destination(in6(1, V6_LOOPBACK), 10, 1, false));
    p.checkDestination(InetSockAddr.destination(in6(1, V4_MAPPED_LOOPBACK), 10, 1, false));
    p.checkDestination(InetSockAddr.destination(in6(1, V6_ANY), 10, 1, false));
    p.checkDestination(null);
    assertThat(errno(() -> p.checkDestination(new byte[] {8, 8, 8, 8}))).isEqualTo(LinuxErrno.ENETUNREACH);
    assertThat(errno(() -> p.checkDestination(InetSockAddr.destination(in6(1, V6_DOC), 10, 1, false))))
        .isEqualTo(LinuxErrno.ENETUNREACH);
    assertThat(errno(() -> p.checkDestination(InetSockAddr.destination(in6(1, V4_MAPPED_REMOTE), 10, 2, true))))
        .isEqualTo(LinuxErrno.ENETUNREACH);
    p.checkBind(new byte[] {127, 0, 0, 2});
    p.checkBind(new byte[4]);
    p.checkBind(null);
    assertThat(errno(() -> p.checkBind(new byte[] {10, 0, 0, 1}))).isEqualTo(LinuxErrno.EADDRNOTAVAIL);
    assertThat(p.admits(new byte[] {127, 0, 0, 1})).isTrue();
    assertThat(p.admits(null)).isTrue();
    assertThat(p.admits(new byte[] {10, 0, 0, 1})).isFalse();
    assertThat(p.narrowsWildcard()).isTrue();
  }

  @Test
  void noneReachesNothingAndBindsOnlyWildcardsAndLoopback() {
    NetPolicy p = NetPolicy.NONE;
    assertThat(errno(() -> p.checkDestination(new byte[] {127, 0, 0, 1}))).isEqualTo(LinuxErrno.ENETUNREACH);
    assertThat(errno(() -> p.checkDestination(new byte[4]))).isEqualTo(LinuxErrno.ENETUNREACH);
    p.checkDestination(null);
    assertThat(errno(() -> p.checkBind(new byte[] {10, 0, 0, 1}))).isEqualTo(LinuxErrno.EADDRNOTAVAIL);
    p.checkBind(new byte[] {127, 0, 0, 1});
    p.checkBind(new byte[4]);
    p.checkBind(new byte[16]);
    assertThat(p.admits(new byte[] {127, 0, 0, 1})).isFalse();
    assertThat(p.admits(null)).isTrue();
  }
}
