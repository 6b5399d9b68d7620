package org.vmspace.vkernel.syscall;

import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * Sockets, as far as the kernel has them: {@code socketpair(AF_UNIX)} makes a connected pair of
 * host sockets (non-blocking on the host, blocking emulated like a pipe's) that read, write,
 * poll, epoll, dup and close work on, named {@code socket:[inode]} as on Linux. Everything else
 * is refused: {@code socket} with EAFNOSUPPORT, the address and message calls (connect, bind,
 * sendmsg, shutdown...) with ENOTSOCK on other descriptors and EOPNOTSUPP on these sockets.
 */
final class SocketCalls {
  static final int AF_UNIX = 1;
  private static final int SOCK_STREAM = 1;
  private static final int SOCK_DGRAM = 2;
  private static final int SOCK_SEQPACKET = 5;
  private static final int SOCK_NONBLOCK = 0x800;
  private static final int SOCK_CLOEXEC = 0x80000;
  private static final int EPROTONOSUPPORT = 93;

  private SocketCalls() {}

  static long socket(Call c) {
    throw new SyscallError(LinuxErrno.EAFNOSUPPORT, "sockets are not supported");
  }

  /**
   * socketpair(2) for AF_UNIX stream, datagram and seqpacket sockets. Checks as Linux: the
   * family (EAFNOSUPPORT), the type and its flags (EINVAL), the protocol (EPROTONOSUPPORT).
   */
  static long socketpair(Call c) {
    int domain = c.i(0);
    int type = c.i(1);
    int protocol = c.i(2);
    if (domain != AF_UNIX) {
      throw new SyscallError(LinuxErrno.EAFNOSUPPORT, "only AF_UNIX socket pairs are supported");
    }
    int kind = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (kind != SOCK_STREAM && kind != SOCK_DGRAM && kind != SOCK_SEQPACKET) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (protocol != 0) {
      throw new SyscallError(EPROTONOSUPPORT);
    }
    int[] fds = Host.socketpair(AF_UNIX, kind | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fds[0] < 0) {
      throw new SyscallError(-fds[0]);
    }
    int nb = (type & SOCK_NONBLOCK) != 0 ? Host.O_NONBLOCK : 0;
    HostFileDescription a = new HostFileDescription(fds[0], "", Host.O_RDWR | nb, true, true);
    HostFileDescription b = new HostFileDescription(fds[1], "", Host.O_RDWR | nb, true, true);
    a = named(a);
    b = named(b);
    return PipeCalls.installPair(c, a, b, (type & SOCK_CLOEXEC) != 0, c.a(3));
  }

  /** The description renamed {@code socket:[inode]}, as /proc/PID/fd shows a socket. */
  private static HostFileDescription named(HostFileDescription d) {
    int fd = Host.dup(d.hostFd());
    Host.fcntl(fd, 2 /* F_SETFD */, 1 /* FD_CLOEXEC */);
    HostFileDescription n = new HostFileDescription(fd, "socket:[" + d.inode() + "]", d.statusFlags(), true, true);
    d.release();
    return n;
  }

  /** connect, accept, sendto and the other calls on a socket. */
  static long notSocket(Call c) {
    FileDescription d = c.fd(0);
    if (d.path().startsWith("socket:[")) {
      throw new SyscallError(LinuxErrno.EOPNOTSUPP, "only read, write and poll work on socket pairs");
    }
    throw new SyscallError(LinuxErrno.ENOTSOCK);
  }
}
