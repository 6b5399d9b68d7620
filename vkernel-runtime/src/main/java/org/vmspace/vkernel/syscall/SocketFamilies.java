package org.vmspace.vkernel.syscall;

import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.net.InetSockAddr;
import org.vmspace.vkernel.net.InetSocket;
import org.vmspace.vkernel.net.UnixSocket;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The socket system calls' entry points: each goes to its family's handlers, AF_INET and
 * AF_INET6 sockets to {@link InetCalls} and {@link InetMessages}, everything else (AF_UNIX
 * sockets, and descriptors that are not sockets, which get ENOTSOCK) to {@link SocketCalls} and
 * {@link SocketMessages}. sendmmsg and recvmmsg are one sendmsg or recvmsg per message, for every
 * family, as Linux builds them.
 */
final class SocketFamilies {
  private static final int SOCK_NONBLOCK = 0x800;
  private static final int SOCK_CLOEXEC = 0x80000;
  private static final int MSG_DONTWAIT = 0x40;
  private static final int MSG_WAITFORONE = 0x10000;
  private static final int MSG_OOB = 0x1;
  private static final int MSG_CMSG_COMPAT = 0x80000000;
  /** UIO_MAXIOV: sendmmsg and recvmmsg take at most this many messages. */
  private static final int UIO_MAXIOV = 1024;
  /** sizeof(struct mmsghdr): a msghdr, then msg_len. */
  private static final int MMSGHDR = 64;

  private SocketFamilies() {}

  private static boolean inet(int domain) {
    return domain == InetSockAddr.AF_INET || domain == InetSockAddr.AF_INET6;
  }

  /** The IP socket at argument 0, or null for any other descriptor (EBADF if none). */
  private static InetSocket inetSocket(Call c) {
    FileDescription d = c.fd(0);
    return d instanceof InetSocket s ? s : null;
  }

  static long socket(Call c) {
    int domain = c.i(0);
    return inet(domain) ? InetCalls.socket(c, domain, c.i(1)) : SocketCalls.socket(c);
  }

  /** socketpair(2): IP sockets have none (EOPNOTSUPP, after the type is checked as Linux does). */
  static long socketpair(Call c) {
    int domain = c.i(0);
    if (!inet(domain)) {
      return SocketCalls.socketpair(c);
    }
    int type = c.i(1) & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    InetSocket.create(domain, type, c.i(2), false, c.kernel.config().net()).release();
    throw new SyscallError(LinuxErrno.EOPNOTSUPP);
  }

  static long bind(Call c) {
    InetSocket s = inetSocket(c);
    return s != null ? InetCalls.bind(c, s) : SocketCalls.bind(c);
  }

  static long listen(Call c) {
    InetSocket s = inetSocket(c);
    return s != null ? InetCalls.listen(c, s) : SocketCalls.listen(c);
  }

  static long connect(Call c) {
    InetSocket s = inetSocket(c);
    return s != null ? InetCalls.connect(c, s) : SocketCalls.connect(c);
  }

  static long accept(Call c) {
    InetSocket s = inetSocket(c);
    return s != null ? InetCalls.accept(c, s, c.a(1), c.a(2), 0) : SocketCalls.accept(c);
  }

  static long accept4(Call c) {
    int flags = c.i(3);
    if ((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    InetSocket s = inetSocket(c);
    return s != null ? InetCalls.accept(c, s, c.a(1), c.a(2), flags) : SocketCalls.accept4(c);
  }

  static long getsockname(Call c) {
    InetSocket s = inetSocket(c);
    return s != null ? InetCalls.getsockname(c, s) : SocketCalls.getsockname(c);
  }

  static long getpeername(Call c) {
    InetSocket s = inetSocket(c);
    return s != null ? InetCalls.getpeername(c, s) : SocketCalls.getpeername(c);
  }

  static long shutdown(Call c) {
    InetSocket s = inetSocket(c);
    return s != null ? InetCalls.shutdown(c, s) : SocketCalls.shutdown(c);
  }

  static long setsockopt(Call c) {
    InetSocket s = inetSocket(c);
    return s != null ? InetCalls.setsockopt(c, s) : SocketCalls.setsockopt(c);
  }

  static long getsockopt(Call c) {
    InetSocket s = inetSocket(c);
    return s != null ? InetCalls.getsockopt(c, s) : SocketCalls.getsockopt(c);
  }

  static long sendto(Call c) {
    InetSocket s = inetSocket(c);
    return s != null ? InetMessages.sendto(c, s) : SocketMessages.sendto(c);
  }

  static long recvfrom(Call c) {
    InetSocket s = inetSocket(c);
    return s != null ? InetMessages.recvfrom(c, s) : SocketMessages.recvfrom(c);
  }

  /** sendmsg(2); MSG_CMSG_COMPAT (a 32-bit caller's flag) is EINVAL from a 64-bit one, as on Linux. */
  static long sendmsg(Call c) {
    if ((c.i(2) & MSG_CMSG_COMPAT) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    InetSocket s = inetSocket(c);
    return s != null ? InetMessages.sendmsg(c, s) : SocketMessages.sendmsg(c);
  }

  /** recvmsg(2); MSG_CMSG_COMPAT is EINVAL, as for sendmsg. */
  static long recvmsg(Call c) {
    if ((c.i(2) & MSG_CMSG_COMPAT) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    InetSocket s = inetSocket(c);
    return s != null ? InetMessages.recvmsg(c, s) : SocketMessages.recvmsg(c);
  }

  /**
   * What Linux checks of sendmmsg and recvmmsg before the first message (so also for none):
   * MSG_CMSG_COMPAT is EINVAL (a 32-bit flag), then the descriptor must be a socket (EBADF,
   * ENOTSOCK).
   */
  private static void checkBatch(Call c) {
    if ((c.i(3) & MSG_CMSG_COMPAT) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    FileDescription d = c.fd(0);
    if (!(d instanceof InetSocket) && !(d instanceof UnixSocket)) {
      throw new SyscallError(LinuxErrno.ENOTSOCK);
    }
  }

  /**
   * sendmmsg(2): a sendmsg per message (at most UIO_MAXIOV), each one's length in its msg_len;
   * the count sent, or the first message's error when none was.
   */
  static long sendmmsg(Call c) {
    checkBatch(c);
    long vec = c.a(1);
    int vlen = (int) Math.min(c.a(2) & 0xffffffffL, UIO_MAXIOV);
    int flags = c.i(3);
    int done = 0;
    while (done < vlen) {
      long entry = vec + (long) done * MMSGHDR;
      long n;
      try {
        n = sendmsg(c.withArgs(c.a(0), entry, flags));
      } catch (SyscallError e) {
        if (done == 0) {
          throw e;
        }
        break;
      }
      c.mem().writeInt(entry + 56, (int) n);
      done++;
    }
    return done;
  }

  /**
   * recvmmsg(2): a recvmsg per message (at most UIO_MAXIOV), each one's length in its msg_len;
   * MSG_WAITFORONE makes those after the first non-blocking; the timeout (EINVAL if not a valid
   * timespec) is looked at after each message, as Linux does, and the time left written back.
   * The count received, or the first message's error when none was.
   */
  static long recvmmsg(Call c) {
    checkBatch(c);
    long vec = c.a(1);
    int vlen = (int) Math.min(c.a(2) & 0xffffffffL, UIO_MAXIOV);
    int flags = c.i(3);
    long timeout = c.a(4);
    long deadline = 0;
    if (timeout != 0) {
      long sec = c.mem().readLong(timeout);
      long nsec = c.mem().readLong(timeout + 8);
      if (sec < 0 || nsec < 0 || nsec >= 1_000_000_000L) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
      deadline = System.nanoTime() + Math.min(sec, Long.MAX_VALUE / 4_000_000_000L) * 1_000_000_000L + nsec;
    }
    int perMessage = flags & ~MSG_WAITFORONE;
    int done = 0;
    while (done < vlen) {
      long entry = vec + (long) done * MMSGHDR;
      long n;
      try {
        n = recvmsg(c.withArgs(c.a(0), entry, perMessage));
      } catch (SyscallError e) {
        if (done == 0) {
          throw e;
        }
        break;
      }
      c.mem().writeInt(entry + 56, (int) n);
      done++;
      if ((flags & MSG_WAITFORONE) != 0) {
        perMessage |= MSG_DONTWAIT;
      }
      if (timeout != 0) {
        long left = Math.max(0, deadline - System.nanoTime());
        c.mem().writeLong(timeout, left / 1_000_000_000L);
        c.mem().writeLong(timeout + 8, left % 1_000_000_000L);
        if (left == 0) {
          break;
        }
      }
      if ((c.mem().readInt(entry + 48) & MSG_OOB) != 0) {
        break;
      }
    }
    return done;
  }
}
