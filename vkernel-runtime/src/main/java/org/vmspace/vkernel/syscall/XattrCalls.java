package org.vmspace.vkernel.syscall;

import static org.vmspace.vkernel.syscall.FileCalls.AT_FDCWD;
import static org.vmspace.vkernel.syscall.FileCalls.check;
import static org.vmspace.vkernel.syscall.FileCalls.hostPath;
import static org.vmspace.vkernel.syscall.FileCalls.resolve;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.fs.Vfs;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.host.HostXattr;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * Extended attributes: getxattr, lgetxattr, fgetxattr, listxattr, llistxattr, flistxattr,
 * setxattr, lsetxattr, fsetxattr, removexattr, lremovexattr, fremovexattr. Host files carry the
 * host's attributes (the host decides what its filesystem supports and what the user may
 * change); changes are refused with EROFS on a read-only mount. Virtual files (/proc, /dev)
 * have none: reading one is ENODATA, listing is empty, setting is EOPNOTSUPP, as Linux's procfs.
 * Checks in Linux's order: the name (ERANGE when empty or over 255 bytes), the size (E2BIG over
 * 64 KiB to set; a larger buffer to read is cut to 64 KiB), then the file.
 */
final class XattrCalls {
  /** XATTR_NAME_MAX. */
  private static final int NAME_MAX = 255;
  /** XATTR_SIZE_MAX and XATTR_LIST_MAX. */
  private static final long SIZE_MAX = 65536;
  private static final int XATTR_CREATE = 1;
  private static final int XATTR_REPLACE = 2;

  private XattrCalls() {}

  static long getxattr(Call c) {
    return get(c, c.path(0), true, c.a(1), c.a(2), c.a(3));
  }

  static long lgetxattr(Call c) {
    return get(c, c.path(0), false, c.a(1), c.a(2), c.a(3));
  }

  static long fgetxattr(Call c) {
    byte[] name = name(c, c.a(1));
    long size = Math.min(c.a(3), SIZE_MAX);
    FileDescription d = c.fd(0);
    if (!(d instanceof HostFileDescription h)) {
      throw new SyscallError(LinuxErrno.ENODATA);
    }
    return copyOut(c, c.a(2), size, buf -> HostXattr.get(h.hostFd(), name, buf, size));
  }

  static long listxattr(Call c) {
    return list(c, c.path(0), true, c.a(1), c.a(2));
  }

  static long llistxattr(Call c) {
    return list(c, c.path(0), false, c.a(1), c.a(2));
  }

  static long flistxattr(Call c) {
    long size = Math.min(c.a(2), SIZE_MAX);
    FileDescription d = c.fd(0);
    if (!(d instanceof HostFileDescription h)) {
      return 0;
    }
    return copyOut(c, c.a(1), size, buf -> HostXattr.list(h.hostFd(), buf, size));
  }

  static long setxattr(Call c) {
    return set(c, c.path(0), true, c.a(1), c.a(2), c.a(3), c.i(4));
  }

  static long lsetxattr(Call c) {
    return set(c, c.path(0), false, c.a(1), c.a(2), c.a(3), c.i(4));
  }

  static long fsetxattr(Call c) {
    byte[] name = name(c, c.a(1));
    byte[] value = value(c, c.a(2), c.a(3), c.i(4));
    FileDescription d = c.fd(0);
    if (!(d instanceof HostFileDescription h)) {
      throw new SyscallError(LinuxErrno.EOPNOTSUPP, d.path());
    }
    if (!h.mountWritable()) {
      throw new SyscallError(LinuxErrno.EROFS, d.path());
    }
    try (Arena a = Arena.ofConfined()) {
      MemorySegment v = a.allocate(Math.max(1, value.length));
      MemorySegment.copy(MemorySegment.ofArray(value), 0, v, 0, value.length);
      return check(HostXattr.set(h.hostFd(), name, v, value.length, c.i(4)));
    }
  }

  static long removexattr(Call c) {
    return remove(c, c.path(0), true, c.a(1));
  }

  static long lremovexattr(Call c) {
    return remove(c, c.path(0), false, c.a(1));
  }

  static long fremovexattr(Call c) {
    byte[] name = name(c, c.a(1));
    FileDescription d = c.fd(0);
    if (!(d instanceof HostFileDescription h)) {
      throw new SyscallError(LinuxErrno.EOPNOTSUPP, d.path());
    }
    if (!h.mountWritable()) {
      throw new SyscallError(LinuxErrno.EROFS, d.path());
    }
    return check(HostXattr.remove(h.hostFd(), name));
  }

  // ---------------------------------------------------------------- by path

  private static long get(Call c, String path, boolean follow, long nameAddr, long valueAddr, long size) {
    byte[] name = name(c, nameAddr);
    long n = Math.min(size, SIZE_MAX);
    Vfs.Node node = resolve(c, AT_FDCWD, path, follow);
    if (!(node instanceof Vfs.HostNode h)) {
      throw new SyscallError(LinuxErrno.ENODATA, node.guestPath());
    }
    int fd = hostPath(c, h);
    try {
      return copyOut(c, valueAddr, n, buf -> HostXattr.get(procFd(fd), name, buf, n));
    } finally {
      Host.close(fd);
    }
  }

  private static long list(Call c, String path, boolean follow, long listAddr, long size) {
    long n = Math.min(size, SIZE_MAX);
    Vfs.Node node = resolve(c, AT_FDCWD, path, follow);
    if (!(node instanceof Vfs.HostNode h)) {
      return 0;
    }
    int fd = hostPath(c, h);
    try {
      return copyOut(c, listAddr, n, buf -> HostXattr.list(procFd(fd), buf, n));
    } finally {
      Host.close(fd);
    }
  }

  private static long set(Call c, String path, boolean follow, long nameAddr, long valueAddr, long size, int flags) {
    byte[] name = name(c, nameAddr);
    byte[] value = value(c, valueAddr, size, flags);
    int fd = changeable(c, path, follow);
    try (Arena a = Arena.ofConfined()) {
      MemorySegment v = a.allocate(Math.max(1, value.length));
      MemorySegment.copy(MemorySegment.ofArray(value), 0, v, 0, value.length);
      return check(HostXattr.set(procFd(fd), name, v, value.length, flags));
    } finally {
      Host.close(fd);
    }
  }

  private static long remove(Call c, String path, boolean follow, long nameAddr) {
    byte[] name = name(c, nameAddr);
    int fd = changeable(c, path, follow);
    try {
      return check(HostXattr.remove(procFd(fd), name));
    } finally {
      Host.close(fd);
    }
  }

  // ---------------------------------------------------------------- helpers

  /**
   * An O_PATH host descriptor of the file whose attributes a call changes: EOPNOTSUPP for a
   * virtual file, EROFS on a read-only mount. The caller closes it.
   */
  private static int changeable(Call c, String path, boolean follow) {
    Vfs.Node node = resolve(c, AT_FDCWD, path, follow);
    if (!(node instanceof Vfs.HostNode h)) {
      throw new SyscallError(LinuxErrno.EOPNOTSUPP, node.guestPath());
    }
    if (!h.mount().writable()) {
      throw new SyscallError(LinuxErrno.EROFS, h.guestPath());
    }
    return hostPath(c, h);
  }

  /** The attribute's name: 1 to 255 bytes, else ERANGE (as Linux's strncpy_from_user check). */
  private static byte[] name(Call c, long addr) {
    byte[] name;
    try {
      name = c.mem().readCStringBytes(addr, NAME_MAX + 1);
    } catch (SyscallError e) {
      throw e.errno() == LinuxErrno.ENAMETOOLONG ? new SyscallError(LinuxErrno.ERANGE, "attribute name too long") : e;
    }
    if (name.length == 0) {
      throw new SyscallError(LinuxErrno.ERANGE, "empty attribute name");
    }
    return name;
  }

  /** The value to set: EINVAL for unknown flags, E2BIG over 64 KiB, EFAULT if unreadable. */
  private static byte[] value(Call c, long addr, long size, int flags) {
    if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (Long.compareUnsigned(size, SIZE_MAX) > 0) {
      throw new SyscallError(LinuxErrno.E2BIG);
    }
    return size == 0 ? new byte[0] : c.mem().readBytes(addr, (int) size);
  }

  private interface HostRead {
    long read(MemorySegment buf);
  }

  /**
   * Runs a host read of at most {@code size} bytes (0: only the size is asked for, as the
   * guest's NULL buffer) and copies what it returned to the guest.
   */
  private static long copyOut(Call c, long addr, long size, HostRead read) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment buf = size == 0 ? MemorySegment.NULL : a.allocate(size);
      long n = check(read.read(buf));
      if (size > 0 && n > 0) {
        c.mem().write(addr, buf, 0, n);
      }
      return n;
    }
  }

  private static byte[] procFd(int fd) {
    return ("/proc/self/fd/" + fd).getBytes(StandardCharsets.US_ASCII);
  }
}
