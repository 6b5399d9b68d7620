package org.vmspace.vkernel.syscall;

import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * Sockets, which the kernel does not have: socket and socketpair fail with EAFNOSUPPORT, the
 * calls on a socket descriptor with EBADF or ENOTSOCK.
 */
final class SocketCalls {
  private SocketCalls() {}

  static long socket(Call c) {
    throw new SyscallError(LinuxErrno.EAFNOSUPPORT, "sockets are not supported");
  }

  static long socketpair(Call c) {
    throw new SyscallError(LinuxErrno.EAFNOSUPPORT, "sockets are not supported");
  }

  /** connect, accept, sendto and the other calls on a socket: no descriptor is one. */
  static long notSocket(Call c) {
    c.fd(0);
    throw new SyscallError(LinuxErrno.ENOTSOCK);
  }
}
