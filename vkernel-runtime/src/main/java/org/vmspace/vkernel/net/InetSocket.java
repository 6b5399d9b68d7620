package org.vmspace.vkernel.net;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.host.HostSockets;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * A guest AF_INET or AF_INET6 socket: a host socket of the same family, type and protocol,
 * non-blocking on the host (so reads, writes, poll, epoll, TCP's and UDP's semantics and errnos
 * are the host's, that is Linux's, own), plus the {@link NetPolicy} every address passes: a
 * destination before it reaches the host, a local address before a bind, a peer before the guest
 * sees its connection or datagram.
 *
 * <p>Addresses are the guest's {@code sockaddr} bytes, passed to the host as they are (at most
 * {@link InetSockAddr#STORAGE} bytes); the host's are handed back as bytes. Under a policy other
 * than {@code host} a bind to a wildcard address is narrowed on the host to loopback where one
 * address does it (0.0.0.0 to 127.0.0.1; :: to ::1 on an IPV6_V6ONLY socket; ::ffff:0.0.0.0 to
 * ::ffff:127.0.0.1), so no other machine can reach the port; the guest's own name still shows
 * the wildcard. A dual-stack :: stays a wildcard on the host (no single loopback address takes
 * both IPv4 and IPv6) and peers from elsewhere are dropped at accept and receive.
 *
 * <p>Nothing here blocks: calls that would wait fail with EAGAIN (EINPROGRESS for a connect) and
 * the system-call layer waits on {@link #pollFd()}.
 */
public final class InetSocket extends HostFileDescription implements TimedSocket {
  public static final int SOCK_STREAM = 1;
  public static final int SOCK_DGRAM = 2;
  private static final int SOCK_RAW = 3;
  private static final int SOCK_PACKET = 10;
  private static final int SOCK_MAX = 11;
  private static final int SOCK_NONBLOCK = 0x800;
  private static final int SOCK_CLOEXEC = 0x80000;
  private static final int IPPROTO_IPV6 = 41;
  private static final int IPV6_V6ONLY = 26;

  private final int family;
  private final int type;
  private final NetPolicy policy;
  /** Bound to a wildcard the host has as loopback: the guest's name shows the wildcard. */
  private boolean narrowed;
  /** Connected (or connecting): the local address is the host's, whatever the bind was. */
  private boolean connected;
  /** Has a local port (bound, autobound by the host, or accepted). */
  private boolean bound;
  private final SocketTimeouts timeouts = new SocketTimeouts();

  private InetSocket(int fd, int family, int type, NetPolicy policy, int statusFlags) {
    super(fd, "socket:[" + UnixSocket.inodeOf(fd) + "]", statusFlags, true, true);
    this.family = family;
    this.type = type;
    this.policy = policy;
  }

  @Override
  public SocketTimeouts timeouts() {
    return timeouts;
  }

  private static void check(long r) {
    if (r < 0) {
      throw new SyscallError((int) -r);
    }
  }

  /**
   * socket(family, type, protocol) for AF_INET and AF_INET6. Stream and datagram sockets are
   * the host's (which refuses a protocol that does not fit the type with EPROTONOSUPPORT, as
   * Linux does); raw and packet sockets are EPERM, as for a process without CAP_NET_RAW;
   * other types are ESOCKTNOSUPPORT, or EINVAL past SOCK_MAX.
   *
   * @param type the type without SOCK_NONBLOCK and SOCK_CLOEXEC
   * @throws SyscallError as described, or the host's errno (EMFILE, ENFILE, ENOMEM)
   */
  public static InetSocket create(int family, int type, int protocol, boolean nonBlocking, NetPolicy policy) {
    if (type < 0 || type >= SOCK_MAX) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (type == SOCK_RAW || type == SOCK_PACKET) {
      throw new SyscallError(LinuxErrno.EPERM, "raw sockets need CAP_NET_RAW");
    }
    if (type != SOCK_STREAM && type != SOCK_DGRAM) {
      throw new SyscallError(LinuxErrno.ESOCKTNOSUPPORT);
    }
    int fd = HostSockets.socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    check(fd);
    return new InetSocket(fd, family, type, policy, Host.O_RDWR | (nonBlocking ? Host.O_NONBLOCK : 0));
  }

  /** AF_INET or AF_INET6. */
  public int family() {
    return family;
  }

  /** SOCK_STREAM or SOCK_DGRAM. */
  public int type() {
    return type;
  }

  /** The policy its addresses pass. */
  public NetPolicy policy() {
    return policy;
  }

  /**
   * bind(2) to the guest's address bytes, after the policy's check.
   *
   * @throws SyscallError EADDRNOTAVAIL from the policy, else the host's errno
   */
  public void bind(byte[] sa) {
    byte[] ip = InetSockAddr.bindAddress(sa, family);
    policy.checkBind(ip);
    byte[] host = sa;
    boolean narrow = false;
    if (ip != null && policy.narrowsWildcard() && InetSockAddr.isWildcard(ip)) {
      host = sa.clone();
      if (ip.length == 4) {
        host[4] = 127;
        host[7] = 1;
        narrow = true;
      } else if (ip[10] == (byte) 0xff) {
        host[20] = 127;
        host[23] = 1;
        narrow = true;
      } else if (v6Only()) {
        host[23] = 1;
        narrow = true;
      }
    }
    try (Arena a = Arena.ofConfined()) {
      check(HostSockets.bind(hostFd(), a.allocateFrom(ValueLayout.JAVA_BYTE, host), host.length));
    }
    synchronized (this) {
      narrowed = narrow;
      bound = true;
    }
  }

  /**
   * Before a listen or a datagram sent by a socket without a port, which the host would bind to
   * a wildcard of every interface: under a policy that narrows, binds it to the wildcard first
   * (port 0, narrowed to loopback as {@link #bind} does), as Linux's autobind would bind it.
   */
  public void bindBeforeAutobind() {
    synchronized (this) {
      if (bound || connected || !policy.narrowsWildcard()) {
        return;
      }
    }
    byte[] own = name(false);
    if (InetSockAddr.port(own) != 0) {
      synchronized (this) {
        bound = true;
      }
      return;
    }
    byte[] any = new byte[family == InetSockAddr.AF_INET ? InetSockAddr.IN_SIZE : InetSockAddr.IN6_SIZE];
    any[0] = (byte) family;
    bind(any);
  }

  private boolean v6Only() {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment v = a.allocate(4, 4);
      MemorySegment len = a.allocate(4, 4);
      len.set(ValueLayout.JAVA_INT, 0, 4);
      check(HostSockets.getsockopt(hostFd(), IPPROTO_IPV6, IPV6_V6ONLY, v, len));
      return v.get(ValueLayout.JAVA_INT, 0) != 0;
    }
  }

  /** listen(2). @throws SyscallError the host's errno (EOPNOTSUPP for a datagram socket) */
  public void listen(int backlog) {
    check(HostSockets.listen(hostFd(), backlog));
  }

  /**
   * One host connect(2) of the guest's address bytes, after the policy's check. Returns 0 or
   * the host's {@code -errno} as it is (EINPROGRESS, EALREADY, EISCONN for a connect under
   * way or done), for the caller to wait on.
   *
   * @throws SyscallError ENETUNREACH from the policy
   */
  public int connect(byte[] sa) {
    policy.checkDestination(InetSockAddr.destination(sa, family, type, false));
    int r;
    try (Arena a = Arena.ofConfined()) {
      r = HostSockets.connect(hostFd(), a.allocateFrom(ValueLayout.JAVA_BYTE, sa), sa.length);
    }
    if (r == 0 || r == -LinuxErrno.EINPROGRESS || r == -LinuxErrno.EALREADY) {
      synchronized (this) {
        connected = InetSockAddr.family(sa) != InetSockAddr.AF_UNSPEC;
      }
    }
    return r;
  }

  /** SO_ERROR of the host socket (and clears it, as reading it does on Linux). */
  public int takeError() {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment v = a.allocate(4, 4);
      MemorySegment len = a.allocate(4, 4);
      len.set(ValueLayout.JAVA_INT, 0, 4);
      check(HostSockets.getsockopt(hostFd(), 1, 4, v, len));
      return v.get(ValueLayout.JAVA_INT, 0);
    }
  }

  /** A connection accept(2) took: the new socket and its peer's address bytes. */
  public record Accepted(InetSocket socket, byte[] peer) {}

  /**
   * accept(2): the next connection from a peer the policy admits (others are closed unseen).
   *
   * @throws SyscallError EAGAIN if none is waiting; the host's errno (EINVAL if not listening)
   */
  public Accepted accept(boolean nonBlocking) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment addr = a.allocate(InetSockAddr.STORAGE, 8);
      MemorySegment len = a.allocate(4, 4);
      while (true) {
        len.set(ValueLayout.JAVA_INT, 0, InetSockAddr.STORAGE);
        int fd = HostSockets.accept4(hostFd(), addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        check(fd);
        byte[] peer = addr.asSlice(0, Math.min(InetSockAddr.STORAGE, len.get(ValueLayout.JAVA_INT, 0)))
            .toArray(ValueLayout.JAVA_BYTE);
        if (!policy.admits(InetSockAddr.peerAddress(peer))) {
          Host.close(fd);
          continue;
        }
        InetSocket s = new InetSocket(fd, family, type, policy, Host.O_RDWR | (nonBlocking ? Host.O_NONBLOCK : 0));
        s.connected = true;
        s.bound = true;
        return new Accepted(s, peer);
      }
    }
  }

  /** getsockname(2): the host's name, with the wildcard the guest bound where it was narrowed. */
  public byte[] localName() {
    byte[] sa = name(false);
    synchronized (this) {
      if (narrowed && !connected) {
        int from = family == InetSockAddr.AF_INET ? 4 : 8;
        int to = family == InetSockAddr.AF_INET ? 8 : 24;
        boolean mapped = family == InetSockAddr.AF_INET6 && sa[18] == (byte) 0xff;
        java.util.Arrays.fill(sa, mapped ? 20 : from, to, (byte) 0);
      }
    }
    return sa;
  }

  /** getpeername(2). @throws SyscallError ENOTCONN if not connected */
  public byte[] peerName() {
    return name(true);
  }

  private byte[] name(boolean peer) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment addr = a.allocate(InetSockAddr.STORAGE, 8);
      MemorySegment len = a.allocate(4, 4);
      len.set(ValueLayout.JAVA_INT, 0, InetSockAddr.STORAGE);
      check(peer ? HostSockets.getpeername(hostFd(), addr, len) : HostSockets.getsockname(hostFd(), addr, len));
      return addr.asSlice(0, Math.min(InetSockAddr.STORAGE, len.get(ValueLayout.JAVA_INT, 0)))
          .toArray(ValueLayout.JAVA_BYTE);
    }
  }
}
