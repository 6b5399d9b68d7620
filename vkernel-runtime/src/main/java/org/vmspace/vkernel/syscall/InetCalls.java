package org.vmspace.vkernel.syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.host.HostSockets;
import org.vmspace.vkernel.net.InetSockAddr;
import org.vmspace.vkernel.net.InetSocket;
import org.vmspace.vkernel.proc.Blocker;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The socket calls on AF_INET and AF_INET6 sockets ({@link InetSocket}), reached through {@link
 * SocketFamilies}: addresses are copied between the guest and the host as bytes (EINVAL for a
 * length below 0 or above sizeof(sockaddr_storage), as Linux's move_addr_to_kernel), the host's
 * kernel does the rest, and blocking is emulated on the host descriptor as for pipes: a signal
 * ends a wait with ERESTARTSYS (restarted after an SA_RESTART handler, EINTR otherwise; a
 * restarted connect waits on for the connection under way, as Linux's does). SO_RCVTIMEO bounds
 * accept's wait (then EAGAIN) and SO_SNDTIMEO connect's (then EINPROGRESS, the connection going
 * on), and with a timeout set a signal ends the wait with EINTR, as Linux's sock_intr_errno.
 */
final class InetCalls {
  private static final int SOCK_NONBLOCK = 0x800;
  private static final int SOCK_CLOEXEC = 0x80000;
  private static final int SOL_SOCKET = 1;
  private static final int IPPROTO_IP = 0;
  private static final int IPPROTO_TCP = 6;
  private static final int IPPROTO_IPV6 = 41;
  /** The longest option value passed through (TCP_INFO is about 250 bytes). */
  private static final int OPTION_MAX = 512;

  private InetCalls() {}

  static long socket(Call c, int domain, int type) {
    int kind = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    InetSocket s = InetSocket.create(domain, kind, c.i(2), (type & SOCK_NONBLOCK) != 0, c.kernel.config().net());
    return c.fds().install(s, 0, (type & SOCK_CLOEXEC) != 0);
  }

  /** The guest's address bytes: EINVAL for a length below 0 or past sockaddr_storage. */
  static byte[] readAddress(Call c, long addr, int len) {
    if (len < 0 || len > InetSockAddr.STORAGE) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return len == 0 ? new byte[0] : c.mem().readBytes(addr, len);
  }

  /**
   * Writes a host address to the guest as Linux's move_addr_to_user: at most the guest's
   * length ({@code *lenAddr}, EINVAL if negative) of it, then its full length.
   */
  static void writeAddress(Call c, long addr, long lenAddr, byte[] sa) {
    int have = c.mem().readInt(lenAddr);
    if (have < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    int n = Math.min(have, sa.length);
    if (n > 0) {
      c.mem().writeBytes(addr, Arrays.copyOf(sa, n));
    }
    c.mem().writeInt(lenAddr, sa.length);
  }

  static long bind(Call c, InetSocket s) {
    s.bind(readAddress(c, c.a(1), c.i(2)));
    return 0;
  }

  static long listen(Call c, InetSocket s) {
    if (s.type() == InetSocket.SOCK_STREAM) {
      s.bindBeforeAutobind();
    }
    s.listen(c.i(1));
    return 0;
  }

  /**
   * connect(2): a blocking stream connect waits for the handshake (the host's connect is
   * repeated when the socket is writable: it then returns 0 or the connection's error, as on
   * Linux); a non-blocking one is EINPROGRESS, then SO_ERROR or POLLOUT tell.
   */
  static long connect(Call c, InetSocket s) {
    byte[] sa = readAddress(c, c.a(1), c.i(2));
    long deadline = s.timeouts().sendDeadline();
    while (true) {
      int r = s.connect(sa);
      if (r == 0) {
        return 0;
      }
      int errno = -r;
      boolean underWay = errno == LinuxErrno.EINPROGRESS || errno == LinuxErrno.EALREADY;
      if (!underWay || s.nonBlocking()) {
        throw new SyscallError(errno);
      }
      Blocker.Wait w = c.thread.blocker().await(s.pollFd(), Host.POLLOUT, deadline, true);
      if (w == Blocker.Wait.TIMEOUT) {
        throw new SyscallError(LinuxErrno.EINPROGRESS);
      }
      if (w == Blocker.Wait.SIGNAL) {
        throw new SyscallError(SocketMessages.interrupted(deadline));
      }
    }
  }

  static long accept(Call c, InetSocket s, long addr, long lenAddr, int flags) {
    long deadline = s.timeouts().receiveDeadline();
    while (true) {
      InetSocket.Accepted n;
      try {
        n = s.accept((flags & SOCK_NONBLOCK) != 0);
      } catch (SyscallError e) {
        if (e.errno() != LinuxErrno.EAGAIN || s.nonBlocking()) {
          throw e;
        }
        Blocker.Wait w = c.thread.blocker().await(s.pollFd(), Host.POLLIN, deadline, true);
        if (w == Blocker.Wait.TIMEOUT) {
          throw new SyscallError(LinuxErrno.EAGAIN);
        }
        if (w == Blocker.Wait.SIGNAL) {
          throw new SyscallError(SocketMessages.interrupted(deadline));
        }
        continue;
      }
      try {
        if (addr != 0) {
          writeAddress(c, addr, lenAddr, n.peer());
        }
      } catch (SyscallError e) {
        n.socket().release();
        throw e;
      }
      return c.fds().install(n.socket(), 0, (flags & SOCK_CLOEXEC) != 0);
    }
  }

  static long getsockname(Call c, InetSocket s) {
    writeAddress(c, c.a(1), c.a(2), s.localName());
    return 0;
  }

  static long getpeername(Call c, InetSocket s) {
    writeAddress(c, c.a(1), c.a(2), s.peerName());
    return 0;
  }

  /** shutdown(2): the host's (EINVAL for a bad {@code how}, ENOTCONN when not connected). */
  static long shutdown(Call c, InetSocket s) {
    int r = HostSockets.shutdown(s.hostFd(), c.i(1));
    if (r < 0) {
      throw new SyscallError(-r);
    }
    return 0;
  }

  /**
   * Whether an option is passed to the host socket: the ones that change only this socket's
   * own behaviour. Others are ENOPROTOOPT, as Linux answers an option it does not know; among
   * them options that deliver ancillary data, and SO_BINDTODEVICE and IP_FREEBIND, which reach
   * past the policy. SO_RCVTIMEO and SO_SNDTIMEO are not passed (the host socket never blocks):
   * the kernel keeps them ({@link SocketCalls#setTimeout}) and the calls enforce them.
   */
  static boolean passedThrough(int level, int opt) {
    return switch (level) {
      // SO_REUSEADDR, SO_TYPE, SO_ERROR, SO_DONTROUTE, SO_BROADCAST, SO_SNDBUF, SO_RCVBUF,
      // SO_KEEPALIVE, SO_OOBINLINE, SO_PRIORITY, SO_LINGER, SO_REUSEPORT, SO_PEERCRED,
      // SO_RCVLOWAT, SO_SNDLOWAT, SO_ACCEPTCONN, SO_PROTOCOL, SO_DOMAIN.
      case SOL_SOCKET -> switch (opt) {
        case 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 15, 17, 18, 19, 30, 38, 39 -> true;
        default -> false;
      };
      // TCP_NODELAY, TCP_MAXSEG, TCP_CORK, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_SYNCNT,
      // TCP_LINGER2, TCP_DEFER_ACCEPT, TCP_WINDOW_CLAMP, TCP_INFO, TCP_QUICKACK,
      // TCP_USER_TIMEOUT, TCP_NOTSENT_LOWAT.
      case IPPROTO_TCP -> (opt >= 1 && opt <= 12) || opt == 18 || opt == 25;
      // IP_TOS, IP_TTL, IP_MTU_DISCOVER, IP_MTU, IP_MULTICAST_TTL, IP_MULTICAST_LOOP.
      case IPPROTO_IP -> opt == 1 || opt == 2 || opt == 10 || opt == 14 || opt == 33 || opt == 34;
      // IPV6_UNICAST_HOPS, IPV6_MULTICAST_HOPS, IPV6_MULTICAST_LOOP, IPV6_MTU_DISCOVER,
      // IPV6_MTU, IPV6_V6ONLY, IPV6_TCLASS.
      case IPPROTO_IPV6 -> opt == 16 || opt == 18 || opt == 19 || opt == 23 || opt == 24 || opt == 26 || opt == 67;
      default -> false;
    };
  }

  /** setsockopt(2): see {@link #passedThrough}; the host checks the value and its length. */
  static long setsockopt(Call c, InetSocket s) {
    int level = c.i(1);
    int opt = c.i(2);
    int len = c.i(4);
    if (len < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (level == SOL_SOCKET && SocketCalls.isTimeout(opt)) {
      SocketCalls.setTimeout(c, s, opt, c.a(3), len);
      return 0;
    }
    if (!passedThrough(level, opt)) {
      throw new SyscallError(LinuxErrno.ENOPROTOOPT);
    }
    int n = Math.min(len, OPTION_MAX);
    byte[] v = n == 0 ? new byte[0] : c.mem().readBytes(c.a(3), n);
    try (Arena a = Arena.ofConfined()) {
      MemorySegment m = a.allocate(Math.max(1, n), 8);
      MemorySegment.copy(v, 0, m, ValueLayout.JAVA_BYTE, 0, n);
      int r = HostSockets.setsockopt(s.hostFd(), level, opt, m, n);
      if (r < 0) {
        throw new SyscallError(-r);
      }
    }
    return 0;
  }

  /** getsockopt(2): see {@link #passedThrough}; the host's value and length are the guest's. */
  static long getsockopt(Call c, InetSocket s) {
    int level = c.i(1);
    int opt = c.i(2);
    long val = c.a(3);
    long lenAddr = c.a(4);
    int len = c.mem().readInt(lenAddr);
    if (len < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (level == SOL_SOCKET && SocketCalls.isTimeout(opt)) {
      byte[] tv = SocketCalls.getTimeout(s, opt);
      int n = Math.min(len, tv.length);
      c.mem().writeBytes(val, Arrays.copyOf(tv, n));
      c.mem().writeInt(lenAddr, n);
      return 0;
    }
    if (!passedThrough(level, opt)) {
      throw new SyscallError(LinuxErrno.ENOPROTOOPT);
    }
    int n = Math.min(len, OPTION_MAX);
    try (Arena a = Arena.ofConfined()) {
      MemorySegment m = a.allocate(Math.max(1, n), 8);
      MemorySegment l = a.allocate(4, 4);
      l.set(ValueLayout.JAVA_INT, 0, n);
      int r = HostSockets.getsockopt(s.hostFd(), level, opt, m, l);
      if (r < 0) {
        throw new SyscallError(-r);
      }
      int got = Math.min(n, l.get(ValueLayout.JAVA_INT, 0));
      if (got > 0) {
        c.mem().writeBytes(val, m.asSlice(0, got).toArray(ValueLayout.JAVA_BYTE));
      }
      c.mem().writeInt(lenAddr, got);
    }
    return 0;
  }
}
