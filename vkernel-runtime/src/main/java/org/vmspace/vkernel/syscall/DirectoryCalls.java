package org.vmspace.vkernel.syscall;

import static org.vmspace.vkernel.syscall.FileCalls.AT_EMPTY_PATH;
import static org.vmspace.vkernel.syscall.FileCalls.AT_FDCWD;
import static org.vmspace.vkernel.syscall.FileCalls.AT_REMOVEDIR;
import static org.vmspace.vkernel.syscall.FileCalls.AT_SYMLINK_FOLLOW;
import static org.vmspace.vkernel.syscall.FileCalls.base;
import static org.vmspace.vkernel.syscall.FileCalls.check;
import static org.vmspace.vkernel.syscall.FileCalls.hostPath;
import static org.vmspace.vkernel.syscall.FileCalls.isDirectory;
import static org.vmspace.vkernel.syscall.FileCalls.resolve;
import static org.vmspace.vkernel.syscall.FileCalls.statInto;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.Stat;
import org.vmspace.vkernel.fs.Vfs;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.PathBytes;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * System calls on directories and the names in them: getcwd, chdir, fchdir, mkdir, mknod,
 * unlink, rmdir, rename, link, symlink and getdents. A name is changed through an O_PATH
 * descriptor of its parent ({@link Vfs.Parent}), which the namespace checks first.
 */
final class DirectoryCalls {
  private DirectoryCalls() {}

  static long chdir(Call c) {
    return chdir(c, c.path(0));
  }

  static long mkdir(Call c) {
    return mkdir(c, AT_FDCWD, c.path(0), c.i(1));
  }

  static long mkdirat(Call c) {
    return mkdir(c, c.i(0), c.path(1), c.i(2));
  }

  static long rmdir(Call c) {
    return unlink(c, AT_FDCWD, c.path(0), AT_REMOVEDIR);
  }

  static long unlink(Call c) {
    return unlink(c, AT_FDCWD, c.path(0), 0);
  }

  static long unlinkat(Call c) {
    return unlink(c, c.i(0), c.path(1), c.i(2));
  }

  static long rename(Call c) {
    return rename(c, AT_FDCWD, c.path(0), AT_FDCWD, c.path(1), 0);
  }

  static long renameat(Call c) {
    return rename(c, c.i(0), c.path(1), c.i(2), c.path(3), 0);
  }

  static long renameat2(Call c) {
    return rename(c, c.i(0), c.path(1), c.i(2), c.path(3), c.i(4));
  }

  static long link(Call c) {
    return link(c, AT_FDCWD, c.path(0), AT_FDCWD, c.path(1), 0);
  }

  static long linkat(Call c) {
    return link(c, c.i(0), c.path(1), c.i(2), c.path(3), c.i(4));
  }

  static long symlink(Call c) {
    return symlink(c, c.path(0), AT_FDCWD, c.path(1));
  }

  static long symlinkat(Call c) {
    return symlink(c, c.path(0), c.i(1), c.path(2));
  }

  static long getdents64(Call c) {
    return getdents(c, true);
  }

  static long getdents(Call c) {
    return getdents(c, false);
  }

  static long mknod(Call c) {
    return mknod(c, AT_FDCWD, c.path(0), c.i(1));
  }

  static long mknodat(Call c) {
    return mknod(c, c.i(0), c.path(1), c.i(2));
  }

  static long getcwd(Call c) {
    byte[] cwd = PathBytes.bytes(c.process.cwd());
    if (c.a(1) < cwd.length + 1L) {
      throw new SyscallError(LinuxErrno.ERANGE);
    }
    byte[] z = java.util.Arrays.copyOf(cwd, cwd.length + 1);
    c.mem().writeBytes(c.a(0), z);
    return z.length;
  }

  private static long chdir(Call c, String path) {
    Vfs.Node n = resolve(c, AT_FDCWD, path, true);
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      statInto(c, AT_FDCWD, n.guestPath(), 0, st);
      if ((Stat.mode(st) & 0170000) != Stat.S_IFDIR) {
        throw new SyscallError(LinuxErrno.ENOTDIR, n.guestPath());
      }
    }
    if (n instanceof Vfs.HostNode h) {
      int fd = hostPath(c, h);
      try {
        check(Host.faccessat2(fd, new byte[0], 1, Host.AT_EMPTY_PATH));
      } finally {
        Host.close(fd);
      }
    }
    c.process.cwd(n.guestPath());
    return 0;
  }

  static long fchdir(Call c) {
    FileDescription d = c.fd(0);
    if (!isDirectory(d)) {
      throw new SyscallError(LinuxErrno.ENOTDIR);
    }
    c.process.cwd(d.path());
    return 0;
  }

  /** The parent of {@code path}, to make {@code change} to its last name. */
  private static Vfs.Parent parent(Call c, int dirfd, String path, Vfs.Change change) {
    if (path.isEmpty()) {
      throw new SyscallError(LinuxErrno.ENOENT);
    }
    String trimmed = path.length() > 1 && path.endsWith("/") ? path.replaceAll("/+$", "") : path;
    if (trimmed.isEmpty()) {
      trimmed = "/";
    }
    return c.kernel.vfs().parent(trimmed, base(c, dirfd, path), true, change);
  }

  private static long mkdir(Call c, int dirfd, String path, int mode) {
    try (Vfs.Parent p = parent(c, dirfd, path, Vfs.Change.CREATE)) {
      return check(Host.mkdirat(p.dirFd(), p.name(), mode & ~c.process.umask() & 07777));
    }
  }

  private static long mknod(Call c, int dirfd, String path, int mode) {
    SpecialFiles.checkMknodType(mode);
    try (Vfs.Parent p = parent(c, dirfd, path, Vfs.Change.CREATE)) {
      return SpecialFiles.mknod(c, p, mode);
    }
  }

  private static long unlink(Call c, int dirfd, String path, int flags) {
    if ((flags & ~AT_REMOVEDIR) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    String last = path.replaceAll("/+$", "");
    last = last.substring(last.lastIndexOf('/') + 1);
    if ((flags & AT_REMOVEDIR) != 0 && last.equals(".")) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if ((flags & AT_REMOVEDIR) != 0 && last.equals("..")) {
      throw new SyscallError(LinuxErrno.ENOTEMPTY);
    }
    Vfs.Change change = (flags & AT_REMOVEDIR) != 0 ? Vfs.Change.REMOVE_OR_RENAME : Vfs.Change.UNLINK;
    try (Vfs.Parent p = parent(c, dirfd, path, change)) {
      return check(Host.unlinkat(p.dirFd(), p.name(), flags));
    }
  }

  private static long rename(Call c, int olddir, String oldPath, int newdir, String newPath, int flags) {
    if ((flags & ~1) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL, "only RENAME_NOREPLACE is supported");
    }
    // As Linux: parents in two mounts are EXDEV, before EBUSY for a mount's root.
    Vfs vfs = c.kernel.vfs();
    if (resolve(c, olddir, oldPath, false) instanceof Vfs.HostNode o
        && resolve(c, newdir, newPath, false) instanceof Vfs.HostNode n && vfs.holder(o) != vfs.holder(n)) {
      throw new SyscallError(LinuxErrno.EXDEV);
    }
    try (Vfs.Parent from = parent(c, olddir, oldPath, Vfs.Change.REMOVE_OR_RENAME);
        Vfs.Parent to = parent(c, newdir, newPath, Vfs.Change.REMOVE_OR_RENAME)) {
      if (from.mount() != to.mount()) {
        throw new SyscallError(LinuxErrno.EXDEV);
      }
      if ((flags & 1) != 0) {
        try (Arena a = Arena.ofConfined()) {
          MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
          if (Host.fstatat(to.dirFd(), to.name(), st, Host.AT_SYMLINK_NOFOLLOW) == 0) {
            throw new SyscallError(LinuxErrno.EEXIST);
          }
        }
      }
      return check(Host.renameat(from.dirFd(), from.name(), to.dirFd(), to.name()));
    }
  }

  private static long link(Call c, int olddir, String oldPath, int newdir, String newPath, int flags) {
    if ((flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    Vfs.Node old = resolve(c, olddir, oldPath, (flags & AT_SYMLINK_FOLLOW) != 0);
    if (!(old instanceof Vfs.HostNode oh)) {
      throw new SyscallError(LinuxErrno.EXDEV);
    }
    try (Vfs.Parent from = c.kernel.vfs().parent(oh.guestPath(), "/", true, Vfs.Change.LINK_SOURCE);
        Vfs.Parent to = parent(c, newdir, newPath, Vfs.Change.CREATE)) {
      if (from.mount() != to.mount()) {
        throw new SyscallError(LinuxErrno.EXDEV);
      }
      return check(Host.linkat(from.dirFd(), from.name(), to.dirFd(), to.name(), 0));
    }
  }

  private static long symlink(Call c, String target, int dirfd, String path) {
    if (target.isEmpty()) {
      throw new SyscallError(LinuxErrno.ENOENT);
    }
    try (Vfs.Parent p = parent(c, dirfd, path, Vfs.Change.CREATE)) {
      return check(Host.symlinkat(PathBytes.bytes(target), p.dirFd(), p.name()));
    }
  }

  private static long getdents(Call c, boolean is64) {
    FileDescription d = c.fd(0);
    long buf = c.a(1);
    long len = Math.min(c.a(2) & 0xffffffffL, Call.CHUNK);
    MemorySegment b = Call.buffer();
    long n = d.getdents64(b, len);
    if (!is64) {
      n = toOldDirents(b, n);
    }
    c.mem().write(buf, b, 0, n);
    return n;
  }

  /** Rewrites linux_dirent64 records in place as the older linux_dirent (never longer). */
  private static long toOldDirents(MemorySegment b, long n) {
    long in = 0;
    long out = 0;
    while (in < n) {
      long ino = b.get(ValueLayout.JAVA_LONG_UNALIGNED, in);
      long off = b.get(ValueLayout.JAVA_LONG_UNALIGNED, in + 8);
      int reclen = Short.toUnsignedInt(b.get(ValueLayout.JAVA_SHORT_UNALIGNED, in + 16));
      byte type = b.get(ValueLayout.JAVA_BYTE, in + 18);
      int nameLen = 0;
      while (b.get(ValueLayout.JAVA_BYTE, in + 19 + nameLen) != 0) {
        nameLen++;
      }
      byte[] name = b.asSlice(in + 19, nameLen).toArray(ValueLayout.JAVA_BYTE);
      int newLen = (18 + nameLen + 2 + 7) & ~7;
      b.set(ValueLayout.JAVA_LONG_UNALIGNED, out, ino);
      b.set(ValueLayout.JAVA_LONG_UNALIGNED, out + 8, off);
      b.set(ValueLayout.JAVA_SHORT_UNALIGNED, out + 16, (short) newLen);
      MemorySegment.copy(MemorySegment.ofArray(name), 0, b, out + 18, nameLen);
      b.asSlice(out + 18 + nameLen, newLen - 18 - nameLen).fill((byte) 0);
      b.set(ValueLayout.JAVA_BYTE, out + newLen - 1, type);
      in += reclen;
      out += newLen;
    }
    return out;
  }
}
