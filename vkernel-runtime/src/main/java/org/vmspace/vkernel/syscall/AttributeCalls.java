package org.vmspace.vkernel.syscall;

import static org.vmspace.vkernel.syscall.FileCalls.AT_EMPTY_PATH;
import static org.vmspace.vkernel.syscall.FileCalls.AT_FDCWD;
import static org.vmspace.vkernel.syscall.FileCalls.AT_SYMLINK_NOFOLLOW;
import static org.vmspace.vkernel.syscall.FileCalls.check;
import static org.vmspace.vkernel.syscall.FileCalls.hostPath;
import static org.vmspace.vkernel.syscall.FileCalls.resolve;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.fs.Vfs;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * System calls that change a file's attributes: chmod, chown, the times (utimensat, utimes,
 * futimesat, utime), truncate and ftruncate, and umask. They change host objects only (EPERM
 * for virtual files), never on a read-only mount (EROFS).
 */
final class AttributeCalls {
  private AttributeCalls() {}

  static long chmod(Call c) {
    return chmod(c, AT_FDCWD, c.path(0), c.i(1), 0);
  }

  static long fchmod(Call c) {
    return chmod(c, c.i(0), "", c.i(1), AT_EMPTY_PATH);
  }

  static long fchmodat(Call c) {
    return chmod(c, c.i(0), c.path(1), c.i(2), 0);
  }

  static long chown(Call c) {
    return chown(c, AT_FDCWD, c.path(0), c.i(1), c.i(2), 0);
  }

  static long lchown(Call c) {
    return chown(c, AT_FDCWD, c.path(0), c.i(1), c.i(2), AT_SYMLINK_NOFOLLOW);
  }

  static long fchown(Call c) {
    return chown(c, c.i(0), "", c.i(1), c.i(2), AT_EMPTY_PATH);
  }

  static long fchownat(Call c) {
    return chown(c, c.i(0), c.path(1), c.i(2), c.i(3), c.i(4));
  }

  static long utimes(Call c) {
    return utimesTimeval(c, AT_FDCWD, c.path(0), c.a(1));
  }

  static long futimesat(Call c) {
    return utimesTimeval(c, c.i(0), c.a(1) == 0 ? "" : c.path(1), c.a(2));
  }

  static long umask(Call c) {
    int old = c.process.umask();
    c.process.umask(c.i(0));
    return old;
  }

  /**
   * An O_PATH descriptor of a host object the call may change (EROFS on a read-only root,
   * EPERM for virtual files), for a path or (AT_EMPTY_PATH) a descriptor.
   */
  private static int changeable(Call c, int dirfd, String path, int flags) {
    if (path.isEmpty() && (flags & AT_EMPTY_PATH) != 0) {
      FileDescription d = dirfd == AT_FDCWD ? null : c.fds().get(dirfd);
      if (d == null) {
        path = c.process.cwd();
      } else {
        if (!(d instanceof HostFileDescription h) || !h.mountWritable()) {
          throw new SyscallError(d instanceof HostFileDescription ? LinuxErrno.EROFS : LinuxErrno.EPERM, d.path());
        }
        int fd = Host.dup(h.hostFd());
        return (int) check(fd);
      }
    } else if (path.isEmpty()) {
      throw new SyscallError(LinuxErrno.ENOENT);
    }
    Vfs.Node n = resolve(c, dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) == 0);
    if (!(n instanceof Vfs.HostNode h)) {
      throw new SyscallError(LinuxErrno.EPERM, n.guestPath());
    }
    if (!h.mount().writable()) {
      throw new SyscallError(LinuxErrno.EROFS, h.guestPath());
    }
    return hostPath(c, h);
  }

  private static byte[] procFd(int fd) {
    return ("/proc/self/fd/" + fd).getBytes(StandardCharsets.US_ASCII);
  }

  private static long chmod(Call c, int dirfd, String path, int mode, int flags) {
    int fd = changeable(c, dirfd, path, flags);
    try {
      return check(Host.fchmodat(Host.AT_FDCWD, procFd(fd), mode & 07777));
    } finally {
      Host.close(fd);
    }
  }

  private static long chown(Call c, int dirfd, String path, int uid, int gid, int flags) {
    if ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    int fd = changeable(c, dirfd, path, flags);
    try {
      return check(Host.fchownat(fd, new byte[0], uid, gid, Host.AT_EMPTY_PATH));
    } finally {
      Host.close(fd);
    }
  }

  static long utimensat(Call c) {
    int dirfd = c.i(0);
    int flags = c.i(3);
    if ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    String path = c.a(1) == 0 ? "" : c.path(1);
    if (c.a(1) == 0) {
      flags |= AT_EMPTY_PATH;
    }
    MemorySegment times = MemorySegment.NULL;
    try (Arena a = Arena.ofConfined()) {
      if (c.a(2) != 0) {
        times = a.allocate(32, 8);
        c.mem().read(c.a(2), times, 0, 32);
      }
      return setTimes(c, dirfd, path, flags, times);
    }
  }

  private static long setTimes(Call c, int dirfd, String path, int flags, MemorySegment times) {
    int fd = changeable(c, dirfd, path, flags);
    try {
      int nofollow = (flags & AT_SYMLINK_NOFOLLOW) != 0 ? AT_SYMLINK_NOFOLLOW : 0;
      if (nofollow != 0) {
        return check(Host.utimensat(fd, new byte[0], times, Host.AT_EMPTY_PATH));
      }
      return check(Host.utimensat(Host.AT_FDCWD, procFd(fd), times, 0));
    } finally {
      Host.close(fd);
    }
  }

  private static long utimesTimeval(Call c, int dirfd, String path, long tv) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment times = MemorySegment.NULL;
      if (tv != 0) {
        byte[] b = c.mem().readBytes(tv, 32);
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        times = a.allocate(32, 8);
        for (int i = 0; i < 2; i++) {
          long usec = bb.getLong(16 * i + 8);
          if (usec < 0 || usec >= 1_000_000) {
            throw new SyscallError(LinuxErrno.EINVAL);
          }
          times.set(ValueLayout.JAVA_LONG, 16 * i, bb.getLong(16 * i));
          times.set(ValueLayout.JAVA_LONG, 16 * i + 8, usec * 1000);
        }
      }
      return setTimes(c, dirfd, path, path.isEmpty() ? AT_EMPTY_PATH : 0, times);
    }
  }

  static long utime(Call c) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment times = MemorySegment.NULL;
      if (c.a(1) != 0) {
        byte[] b = c.mem().readBytes(c.a(1), 16);
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        times = a.allocate(32, 8);
        times.set(ValueLayout.JAVA_LONG, 0, bb.getLong(0));
        times.set(ValueLayout.JAVA_LONG, 16, bb.getLong(8));
      }
      return setTimes(c, AT_FDCWD, c.path(0), 0, times);
    }
  }

  static long truncate(Call c) {
    long len = c.a(1);
    if (len < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    Vfs.Node n = resolve(c, AT_FDCWD, c.path(0), true);
    if (!(n instanceof Vfs.HostNode h)) {
      throw new SyscallError(LinuxErrno.EACCES, n.guestPath());
    }
    int fd;
    try {
      // Non-blocking: a FIFO must not hold the thread (Linux refuses to truncate one: EINVAL).
      fd = c.kernel.vfs().openHost(h, Host.O_WRONLY | Host.O_NONBLOCK, 0);
    } catch (SyscallError e) {
      throw e.errno() == LinuxErrno.ENXIO ? new SyscallError(LinuxErrno.EINVAL, n.guestPath()) : e;
    }
    try {
      FileSizeLimit.checkLength(c, len);
      return check(Host.ftruncate(fd, len));
    } finally {
      Host.close(fd);
    }
  }

  static long ftruncate(Call c) {
    FileDescription d = c.fd(0);
    long len = c.a(1);
    if (len < 0 || !(d instanceof HostFileDescription h) || !h.isRegular() || !d.writable()) {
      throw new SyscallError(len < 0 || !d.writable() ? LinuxErrno.EINVAL : LinuxErrno.EINVAL);
    }
    FileSizeLimit.checkLength(c, len);
    return check(Host.ftruncate(h.hostFd(), len));
  }
}
