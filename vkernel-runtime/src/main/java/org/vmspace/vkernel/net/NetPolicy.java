package org.vmspace.vkernel.net;

import java.util.Locale;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * What IP networking the guest may use ({@code vkernel run --net=...}); the checks each socket
 * call makes. The errnos are those a Linux program sees where the network is not there, so
 * programs report them as they would on such a machine:
 *
 * <ul>
 *   <li>{@link #HOST}: the host's network, as a host process has it.
 *   <li>{@link #LOOPBACK}: only 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. A connect or send
 *       elsewhere is ENETUNREACH (as with no route), a bind to another local address
 *       EADDRNOTAVAIL (as for an address no interface has); the wildcard addresses stand for
 *       loopback (Linux itself connects 0.0.0.0 and :: to loopback), and what arrives from any
 *       other address (a connection to accept, a datagram) is dropped before the guest sees it.
 *   <li>{@link #NONE}: as in a new network namespace, whose only interface, loopback, is
 *       down: sockets can be made and bound (to a wildcard or a loopback address; another is
 *       EADDRNOTAVAIL), every connect and send with a destination is ENETUNREACH (Linux says
 *       EADDRNOTAVAIL for ::1 there, for want of a source address; one errno is simpler to
 *       handle and to document), and nothing arrives.
 * </ul>
 */
public enum NetPolicy {
  HOST,
  LOOPBACK,
  NONE;

  /**
   * The policy named {@code host}, {@code loopback} or {@code none} (any case).
   *
   * @throws IllegalArgumentException for another name
   */
  public static NetPolicy parse(String name) {
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "host" -> HOST;
      case "loopback" -> LOOPBACK;
      case "none" -> NONE;
      default -> throw new IllegalArgumentException("--net wants host, loopback or none, got '" + name + "'");
    };
  }

  /** The name {@link #parse} takes. */
  public String optionName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * Checks a destination (connect, sendto, sendmsg) read by {@link InetSockAddr#destination};
   * null (no destination) always passes.
   *
   * @throws SyscallError ENETUNREACH if the policy does not reach it
   */
  public void checkDestination(byte[] ip) {
    if (ip == null || this == HOST) {
      return;
    }
    if (this == NONE || !(InetSockAddr.isLoopback(ip) || InetSockAddr.isWildcard(ip))) {
      throw new SyscallError(LinuxErrno.ENETUNREACH, "--net=" + optionName());
    }
  }

  /**
   * Checks a local address to bind read by {@link InetSockAddr#bindAddress}; null passes (the
   * host refuses it with Linux's errno).
   *
   * @throws SyscallError EADDRNOTAVAIL if the policy has no such local address
   */
  public void checkBind(byte[] ip) {
    if (ip == null || this == HOST || InetSockAddr.isWildcard(ip)) {
      return;
    }
    if (!InetSockAddr.isLoopback(ip)) {
      throw new SyscallError(LinuxErrno.EADDRNOTAVAIL, "--net=" + optionName());
    }
  }

  /**
   * Whether a peer (of a connection to accept, or a datagram's sender) may reach the guest;
   * {@code ip} null (no address: a stream's recvfrom) passes.
   */
  public boolean admits(byte[] ip) {
    return switch (this) {
      case HOST -> true;
      case LOOPBACK -> ip == null || InetSockAddr.isLoopback(ip);
      case NONE -> ip == null;
    };
  }

  /** Whether a wildcard bind is narrowed to the loopback address on the host. */
  public boolean narrowsWildcard() {
    return this != HOST;
  }
}
