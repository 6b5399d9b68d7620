package org.vmspace.vkernel.net;

import java.util.Arrays;

/**
 * Reads the IP address out of a guest's {@code sockaddr_in} or {@code sockaddr_in6} bytes the way
 * Linux does for each call, without ever turning guest bytes into a host name or a Java {@code
 * InetAddress}: only to decide what the network policy allows. The bytes themselves go to the
 * host unchanged, so the host's kernel gives every malformed address its own errno (EINVAL for
 * a short one, EAFNOSUPPORT for another family); where these methods return null Linux uses no
 * address (or refuses the call).
 *
 * <p>Layouts (network byte order): {@code sockaddr_in} is family (2 bytes, little-endian on
 * x86-64), port (2), address (4), zero (8): 16 bytes; {@code sockaddr_in6} is family, port,
 * flow info (4), address (16), scope id (4): 28 bytes, of which Linux needs the first 24
 * (SIN6_LEN_RFC2133).
 */
public final class InetSockAddr {
  public static final int AF_UNSPEC = 0;
  public static final int AF_INET = 2;
  public static final int AF_INET6 = 10;
  /** sizeof(struct sockaddr_in). */
  public static final int IN_SIZE = 16;
  /** sizeof(struct sockaddr_in6). */
  public static final int IN6_SIZE = 28;
  /** SIN6_LEN_RFC2133: the shortest sockaddr_in6 Linux takes (no scope id). */
  public static final int IN6_MIN = 24;
  /** sizeof(struct sockaddr_storage): the longest address any call takes. */
  public static final int STORAGE = 128;
  private static final int SOCK_DGRAM = 2;

  private InetSockAddr() {}

  /** The family field (sa_family) of {@code sa}, or -1 if it is shorter than the field. */
  public static int family(byte[] sa) {
    return sa.length < 2 ? -1 : (sa[0] & 0xff) | (sa[1] & 0xff) << 8;
  }

  /** The port (host order) of an address long enough to hold one, or -1. */
  public static int port(byte[] sa) {
    return sa.length < 4 ? -1 : (sa[2] & 0xff) << 8 | (sa[3] & 0xff);
  }

  /**
   * The local address a bind(2) of {@code sa} asks for on a socket of {@code sockFamily}: 4
   * bytes for AF_INET (also for AF_UNSPEC with INADDR_ANY, which Linux takes as AF_INET), 16
   * for AF_INET6; null where Linux refuses the address (too short, another family).
   */
  public static byte[] bindAddress(byte[] sa, int sockFamily) {
    int f = family(sa);
    if (sockFamily == AF_INET) {
      if (sa.length < IN_SIZE) {
        return null;
      }
      byte[] ip = Arrays.copyOfRange(sa, 4, 8);
      if (f == AF_INET || (f == AF_UNSPEC && isWildcard(ip))) {
        return ip;
      }
      return null;
    }
    return f == AF_INET6 && sa.length >= IN6_MIN ? Arrays.copyOfRange(sa, 8, 24) : null;
  }

  /**
   * The destination a connect(2) ({@code send} false) or a sendto/sendmsg ({@code send} true)
   * of {@code sa} names on a socket of {@code sockFamily} and {@code sockType}, as Linux reads
   * it: AF_INET addresses (on an AF_INET socket also AF_UNSPEC ones of full length for a
   * datagram sent, as udp_sendmsg takes them), AF_INET6 ones, and AF_INET ones on an AF_INET6
   * datagram socket (which sends IPv4). Null: no destination (AF_UNSPEC on connect dissolves
   * the association) or one Linux refuses (the host says why).
   */
  public static byte[] destination(byte[] sa, int sockFamily, int sockType, boolean send) {
    int f = family(sa);
    boolean v4 = f == AF_INET || (send && sockFamily == AF_INET && f == AF_UNSPEC);
    if (v4 && (sockFamily == AF_INET || sockType == SOCK_DGRAM)) {
      return sa.length >= IN_SIZE ? Arrays.copyOfRange(sa, 4, 8) : null;
    }
    if (f == AF_INET6 && sockFamily == AF_INET6) {
      return sa.length >= IN6_MIN ? Arrays.copyOfRange(sa, 8, 24) : null;
    }
    return null;
  }

  /**
   * The address of a peer as the host reports it (accept, recvfrom): 4 or 16 bytes, or null
   * if {@code sa} is no IP address (a TCP recvfrom reports none).
   */
  public static byte[] peerAddress(byte[] sa) {
    int f = family(sa);
    if (f == AF_INET && sa.length >= IN_SIZE) {
      return Arrays.copyOfRange(sa, 4, 8);
    }
    if (f == AF_INET6 && sa.length >= IN6_MIN) {
      return Arrays.copyOfRange(sa, 8, 24);
    }
    return null;
  }

  /** INADDR_ANY (0.0.0.0), in6addr_any (::) or the IPv4-mapped ::ffff:0.0.0.0. */
  public static boolean isWildcard(byte[] ip) {
    if (ip.length == 16 && isV4Mapped(ip)) {
      return isWildcard(Arrays.copyOfRange(ip, 12, 16));
    }
    for (byte b : ip) {
      if (b != 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * A loopback address: 127.0.0.0/8, ::1, or an IPv4-mapped ::ffff:127.x.y.z (what a dual-stack
   * IPv6 socket uses for 127.x.y.z).
   */
  public static boolean isLoopback(byte[] ip) {
    if (ip.length == 4) {
      return (ip[0] & 0xff) == 127;
    }
    if (isV4Mapped(ip)) {
      return (ip[12] & 0xff) == 127;
    }
    for (int i = 0; i < 15; i++) {
      if (ip[i] != 0) {
        return false;
      }
    }
    return ip[15] == 1;
  }

  /** ::ffff:a.b.c.d. */
  private static boolean isV4Mapped(byte[] ip) {
    for (int i = 0; i < 10; i++) {
      if (ip[i] != 0) {
        return false;
      }
    }
    return ip[10] == (byte) 0xff && ip[11] == (byte) 0xff;
  }
}
