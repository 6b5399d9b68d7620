package org.vmspace.vkernel.syscall;

import org.vmspace.vkernel.fs.FdTable;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.LinuxLocks;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The descriptor table: close, close_range, dup, dup2, dup3 and fcntl (its lock commands are
 * {@link LockCalls}'); closing a descriptor first releases the process's POSIX locks on its file.
 */
final class DescriptorCalls {
  private static final int F_DUPFD = 0;
  private static final int F_GETFD = 1;
  private static final int F_SETFD = 2;
  private static final int F_GETFL = 3;
  private static final int F_SETFL = 4;
  private static final int F_SETOWN = 8;
  private static final int F_GETOWN = 9;
  private static final int F_DUPFD_CLOEXEC = 1030;
  private static final int F_SETPIPE_SZ = 1031;
  private static final int F_GETPIPE_SZ = 1032;

  private DescriptorCalls() {}

  static long close(Call c) {
    LockCalls.closing(c, c.fd(0));
    c.fds().close(c.i(0));
    return 0;
  }

  static long dup(Call c) {
    return c.fds().install(c.fd(0).retain(), 0, false);
  }

  static long dup2(Call c) {
    return dup3(c, c.i(0), c.i(1), 0, true);
  }

  static long dup3(Call c) {
    return dup3(c, c.i(0), c.i(1), c.i(2), false);
  }

  static long closeRange(Call c) {
    long first = c.a(0) & 0xffffffffL;
    long last = c.a(1) & 0xffffffffL;
    int flags = c.i(2);
    if (first > last || (flags & ~(0x2 | 0x4)) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    FdTable t = c.fds();
    for (long fd = first; fd <= Math.min(last, t.size() - 1L); fd++) {
      if (t.isOpen((int) fd)) {
        if ((flags & 0x4) != 0) { // CLOSE_RANGE_CLOEXEC
          t.closeOnExec((int) fd, true);
        } else {
          LockCalls.closing(c, t.get((int) fd));
          t.close((int) fd);
        }
      }
    }
    return 0;
  }

  private static long dup3(Call c, int oldFd, int newFd, int flags, boolean dup2) {
    FileDescription d = c.fds().get(oldFd);
    if (oldFd == newFd) {
      if (dup2) {
        return newFd;
      }
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if ((flags & ~Host.O_CLOEXEC) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (c.fds().isOpen(newFd)) {
      LockCalls.closing(c, c.fds().get(newFd));
    }
    c.fds().installAt(d.retain(), newFd, (flags & Host.O_CLOEXEC) != 0);
    return newFd;
  }

  static long fcntl(Call c) {
    int fd = c.i(0);
    int cmd = c.i(1);
    long arg = c.a(2);
    FdTable t = c.fds();
    FileDescription d = t.get(fd);
    return switch (cmd) {
      case F_DUPFD, F_DUPFD_CLOEXEC -> {
        // Linux compares the unsigned argument with RLIMIT_NOFILE: EINVAL, not EMFILE.
        if (Long.compareUnsigned(arg, t.limit()) >= 0) {
          throw new SyscallError(LinuxErrno.EINVAL);
        }
        yield t.install(d.retain(), (int) arg, cmd == F_DUPFD_CLOEXEC);
      }
      case F_GETFD -> t.closeOnExec(fd) ? 1 : 0;
      case F_SETFD -> {
        t.closeOnExec(fd, (arg & 1) != 0);
        yield 0;
      }
      case F_GETFL -> d.statusFlags() | 0x8000; // O_LARGEFILE, as Linux reports on 64-bit
      case F_SETFL -> {
        d.setStatusFlags((int) arg);
        yield 0;
      }
      case LinuxLocks.F_GETLK, LinuxLocks.F_SETLK, LinuxLocks.F_SETLKW, LinuxLocks.F_OFD_GETLK, LinuxLocks.F_OFD_SETLK,
          LinuxLocks.F_OFD_SETLKW -> LockCalls.fcntl(c, d, cmd, arg);
      case F_SETOWN -> 0;
      case F_GETOWN -> 0;
      case F_GETPIPE_SZ -> {
        if (!(d instanceof HostFileDescription h) || !h.isFifo()) {
          throw new SyscallError(LinuxErrno.EBADF);
        }
        yield Host.fcntl(h.hostFd(), F_GETPIPE_SZ, 0);
      }
      case F_SETPIPE_SZ -> {
        if (!(d instanceof HostFileDescription h) || !h.isFifo()) {
          throw new SyscallError(LinuxErrno.EBADF);
        }
        int r = Host.fcntl(h.hostFd(), F_SETPIPE_SZ, (int) arg);
        if (r < 0) {
          throw new SyscallError(-r);
        }
        yield r;
      }
      default -> throw new SyscallError(LinuxErrno.EINVAL, "fcntl command " + cmd);
    };
  }
}
