package org.vmspace.vkernel.syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.fs.Stat;
import org.vmspace.vkernel.fs.Vfs;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.PathBytes;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * System calls on paths: open, stat, readlink, access, directories, links, renames,
 * permissions, times, truncation, statfs, getdents, getcwd and chdir. Paths resolve in the
 * guest's namespace ({@link Vfs}); host objects are then reached through descriptors opened
 * with {@code RESOLVE_IN_ROOT}, never through host path strings.
 */
final class FileCalls {
  static final int AT_FDCWD = -100;
  static final int AT_SYMLINK_NOFOLLOW = 0x100;
  static final int AT_REMOVEDIR = 0x200;
  static final int AT_SYMLINK_FOLLOW = 0x400;
  static final int AT_EACCESS = 0x200;
  static final int AT_EMPTY_PATH = 0x1000;
  private static final int O_TMPFILE = 0x410000;
  private static final int W_OK = 2;
  /** Open flags passed to the host. O_NONBLOCK is emulated; O_CLOEXEC is the kernel's own. */
  private static final int HOST_OPEN_FLAGS = Host.O_ACCMODE | Host.O_CREAT | Host.O_EXCL | Host.O_TRUNC
      | Host.O_APPEND | Host.O_DIRECTORY | Host.O_NOFOLLOW | Host.O_NOCTTY | Host.O_PATH | 0x101000 /* O_SYNC */
      | 0x40000 /* O_NOATIME */;

  private FileCalls() {}

  static void register(Syscalls s) {
    s.def(2, "open", "sOo", c -> open(c, AT_FDCWD, c.path(0), c.i(1), c.i(2)));
    s.def(257, "openat", "FsOo", c -> open(c, c.i(0), c.path(1), c.i(2), c.i(3)));
    s.def(85, "creat", "so", c -> open(c, AT_FDCWD, c.path(0), Host.O_CREAT | Host.O_WRONLY | Host.O_TRUNC, c.i(1)));
    s.def(437, "openat2", "Fsxu", FileCalls::openat2);
    s.def(4, "stat", "sx", c -> stat(c, AT_FDCWD, c.path(0), c.a(1), 0));
    s.def(6, "lstat", "sx", c -> stat(c, AT_FDCWD, c.path(0), c.a(1), AT_SYMLINK_NOFOLLOW));
    s.def(5, "fstat", "fx", c -> stat(c, c.i(0), "", c.a(1), AT_EMPTY_PATH));
    s.def(262, "newfstatat", "Fsxx", c -> stat(c, c.i(0), c.path(1), c.a(2), c.i(3)));
    s.def(332, "statx", "Fsxxx", FileCalls::statx);
    s.def(21, "access", "so", c -> access(c, AT_FDCWD, c.path(0), c.i(1), 0));
    s.def(269, "faccessat", "Fso", c -> access(c, c.i(0), c.path(1), c.i(2), 0));
    s.def(439, "faccessat2", "Fsox", c -> access(c, c.i(0), c.path(1), c.i(2), c.i(3)));
    s.def(89, "readlink", "sxd", c -> readlink(c, AT_FDCWD, c.path(0), c.a(1), c.a(2)));
    s.def(267, "readlinkat", "Fsxd", c -> readlink(c, c.i(0), c.path(1), c.a(2), c.a(3)));
    s.def(79, "getcwd", "xu", FileCalls::getcwd);
    s.def(80, "chdir", "s", c -> chdir(c, c.path(0)));
    s.def(81, "fchdir", "f", FileCalls::fchdir);
    s.def(83, "mkdir", "so", c -> mkdir(c, AT_FDCWD, c.path(0), c.i(1)));
    s.def(258, "mkdirat", "Fso", c -> mkdir(c, c.i(0), c.path(1), c.i(2)));
    s.def(84, "rmdir", "s", c -> unlink(c, AT_FDCWD, c.path(0), AT_REMOVEDIR));
    s.def(87, "unlink", "s", c -> unlink(c, AT_FDCWD, c.path(0), 0));
    s.def(263, "unlinkat", "Fsx", c -> unlink(c, c.i(0), c.path(1), c.i(2)));
    s.def(82, "rename", "ss", c -> rename(c, AT_FDCWD, c.path(0), AT_FDCWD, c.path(1), 0));
    s.def(264, "renameat", "FsFs", c -> rename(c, c.i(0), c.path(1), c.i(2), c.path(3), 0));
    s.def(316, "renameat2", "FsFsx", c -> rename(c, c.i(0), c.path(1), c.i(2), c.path(3), c.i(4)));
    s.def(86, "link", "ss", c -> link(c, AT_FDCWD, c.path(0), AT_FDCWD, c.path(1), 0));
    s.def(265, "linkat", "FsFsx", c -> link(c, c.i(0), c.path(1), c.i(2), c.path(3), c.i(4)));
    s.def(88, "symlink", "ss", c -> symlink(c, c.path(0), AT_FDCWD, c.path(1)));
    s.def(266, "symlinkat", "sFs", c -> symlink(c, c.path(0), c.i(1), c.path(2)));
    s.def(90, "chmod", "so", c -> chmod(c, AT_FDCWD, c.path(0), c.i(1), 0));
    s.def(91, "fchmod", "fo", c -> chmod(c, c.i(0), "", c.i(1), AT_EMPTY_PATH));
    s.def(268, "fchmodat", "Fso", c -> chmod(c, c.i(0), c.path(1), c.i(2), 0));
    s.def(92, "chown", "sdd", c -> chown(c, AT_FDCWD, c.path(0), c.i(1), c.i(2), 0));
    s.def(94, "lchown", "sdd", c -> chown(c, AT_FDCWD, c.path(0), c.i(1), c.i(2), AT_SYMLINK_NOFOLLOW));
    s.def(93, "fchown", "fdd", c -> chown(c, c.i(0), "", c.i(1), c.i(2), AT_EMPTY_PATH));
    s.def(260, "fchownat", "Fsddx", c -> chown(c, c.i(0), c.path(1), c.i(2), c.i(3), c.i(4)));
    s.def(280, "utimensat", "Fsxx", FileCalls::utimensat);
    s.def(235, "utimes", "sx", c -> utimesTimeval(c, AT_FDCWD, c.path(0), c.a(1)));
    s.def(261, "futimesat", "Fsx", c -> utimesTimeval(c, c.i(0), c.a(1) == 0 ? "" : c.path(1), c.a(2)));
    s.def(132, "utime", "sx", FileCalls::utime);
    s.def(76, "truncate", "su", FileCalls::truncate);
    s.def(77, "ftruncate", "fu", FileCalls::ftruncate);
    s.def(137, "statfs", "sx", c -> statfs(c, AT_FDCWD, c.path(0), c.a(1), 0));
    s.def(138, "fstatfs", "fx", c -> statfs(c, c.i(0), "", c.a(1), AT_EMPTY_PATH));
    s.def(217, "getdents64", "fxu", c -> getdents(c, true));
    s.def(78, "getdents", "fxu", c -> getdents(c, false));
    s.def(95, "umask", "o", c -> {
      int old = c.process.umask();
      c.process.umask(c.i(0));
      return old;
    });
    s.def(133, "mknod", "sox", c -> mknod(c, AT_FDCWD, c.path(0), c.i(1)));
    s.def(259, "mknodat", "Fsox", c -> mknod(c, c.i(0), c.path(1), c.i(2)));
  }

  // ---------------------------------------------------------------- resolution helpers

  /** The directory a relative path of {@code dirfd} starts from. */
  static String base(Call c, int dirfd, String path) {
    if (path.startsWith("/") || dirfd == AT_FDCWD) {
      return c.process.cwd();
    }
    FileDescription d = c.fds().get(dirfd);
    if (!isDirectory(d)) {
      throw new SyscallError(LinuxErrno.ENOTDIR);
    }
    return d.path();
  }

  static boolean isDirectory(FileDescription d) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      d.fstat(st);
      return (Stat.mode(st) & 0170000) == Stat.S_IFDIR;
    }
  }

  static Vfs.Node resolve(Call c, int dirfd, String path, boolean follow) {
    return c.kernel.vfs().resolve(path, base(c, dirfd, path), follow);
  }

  /** An O_PATH host descriptor for the node; the caller closes it. */
  static int hostPath(Call c, Vfs.HostNode h) {
    return c.kernel.vfs().openPath(h);
  }

  private static long check(long r) {
    if (r < 0) {
      throw new SyscallError((int) -r);
    }
    return r;
  }

  // ---------------------------------------------------------------- open

  static long open(Call c, int dirfd, String path, int flags, int mode) {
    if ((flags & O_TMPFILE) == O_TMPFILE) {
      throw new SyscallError(LinuxErrno.EOPNOTSUPP, "O_TMPFILE");
    }
    boolean creatExcl = (flags & (Host.O_CREAT | Host.O_EXCL)) == (Host.O_CREAT | Host.O_EXCL);
    boolean follow = (flags & Host.O_NOFOLLOW) == 0 && !creatExcl;
    Vfs.Node n = resolve(c, dirfd, path, follow);
    boolean cloexec = (flags & Host.O_CLOEXEC) != 0;
    int status = flags & (Host.O_ACCMODE | Host.O_APPEND | Host.O_NONBLOCK | Host.O_PATH);
    FileDescription d;
    if (n instanceof Vfs.VirtualNode v) {
      if (v.entry() == null) {
        throw new SyscallError((flags & Host.O_CREAT) != 0 ? LinuxErrno.EACCES : LinuxErrno.ENOENT, v.guestPath());
      }
      if (creatExcl) {
        throw new SyscallError(LinuxErrno.EEXIST, v.guestPath());
      }
      if ((flags & Host.O_DIRECTORY) != 0 && !v.entry().isDirectory()) {
        throw new SyscallError(LinuxErrno.ENOTDIR, v.guestPath());
      }
      if (v.entry().linkTarget() != null && (flags & Host.O_NOFOLLOW) != 0 && (flags & Host.O_PATH) == 0) {
        throw new SyscallError(LinuxErrno.ELOOP, v.guestPath());
      }
      d = v.entry().open(flags, v.guestPath());
    } else {
      d = SpecialFiles.open(c, (Vfs.HostNode) n, flags & HOST_OPEN_FLAGS, mode & ~c.process.umask() & 07777, status);
    }
    return c.fds().install(d, 0, cloexec);
  }

  private static long openat2(Call c) {
    long size = c.a(3);
    if (size < 24) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    byte[] how = c.mem().readBytes(c.a(2), 24);
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(how).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    long flags = b.getLong(0);
    long mode = b.getLong(8);
    long resolve = b.getLong(16);
    if (resolve != 0) {
      throw new SyscallError(LinuxErrno.EINVAL, "RESOLVE_* flags are not supported");
    }
    if ((flags >>> 32) != 0 || ((flags & Host.O_CREAT) == 0 && mode != 0)) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return open(c, c.i(0), c.path(1), (int) flags, (int) mode);
  }

  // ---------------------------------------------------------------- stat

  /** Fills {@code st} for a path (or, with AT_EMPTY_PATH and "", for the descriptor). */
  static void statInto(Call c, int dirfd, String path, int flags, MemorySegment st) {
    if (path.isEmpty()) {
      if ((flags & AT_EMPTY_PATH) == 0) {
        throw new SyscallError(LinuxErrno.ENOENT);
      }
      if (dirfd == AT_FDCWD) {
        path = c.process.cwd();
      } else {
        c.fds().get(dirfd).fstat(st);
        return;
      }
    }
    boolean follow = (flags & AT_SYMLINK_NOFOLLOW) == 0;
    Vfs.Node n = resolve(c, dirfd, path, follow);
    if (n instanceof Vfs.VirtualNode v) {
      if (v.entry() == null) {
        throw new SyscallError(LinuxErrno.ENOENT, v.guestPath());
      }
      if (follow) {
        v.entry().stat(st, v.guestPath());
      } else {
        v.entry().lstat(st, v.guestPath());
      }
      return;
    }
    int fd = hostPath(c, (Vfs.HostNode) n);
    try {
      check(Host.fstat(fd, st));
    } finally {
      Host.close(fd);
    }
  }

  private static long stat(Call c, int dirfd, String path, long buf, int flags) {
    if ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | 0x800 /* AT_NO_AUTOMOUNT */)) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      statInto(c, dirfd, path, flags, st);
      c.mem().write(buf, st, 0, Host.STAT_SIZE);
    }
    return 0;
  }

  /** statx(2), filled from a stat. */
  private static long statx(Call c) {
    int flags = c.i(2);
    if ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | 0x800 | 0x6000 /* AT_STATX_SYNC_TYPE */)) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      statInto(c, c.i(0), c.path(1), flags, st);
      MemorySegment x = a.allocate(256, 8);
      x.fill((byte) 0);
      long dev = st.get(ValueLayout.JAVA_LONG, 0);
      long rdev = st.get(ValueLayout.JAVA_LONG, 40);
      x.set(ValueLayout.JAVA_INT, 0, 0x7ff); // STATX_BASIC_STATS
      x.set(ValueLayout.JAVA_INT, 4, (int) st.get(ValueLayout.JAVA_LONG, 56));
      x.set(ValueLayout.JAVA_INT, 16, (int) st.get(ValueLayout.JAVA_LONG, 16));
      x.set(ValueLayout.JAVA_INT, 20, st.get(ValueLayout.JAVA_INT, 28));
      x.set(ValueLayout.JAVA_INT, 24, st.get(ValueLayout.JAVA_INT, 32));
      x.set(ValueLayout.JAVA_SHORT, 28, (short) st.get(ValueLayout.JAVA_INT, 24));
      x.set(ValueLayout.JAVA_LONG, 32, st.get(ValueLayout.JAVA_LONG, 8));
      x.set(ValueLayout.JAVA_LONG, 40, st.get(ValueLayout.JAVA_LONG, 48));
      x.set(ValueLayout.JAVA_LONG, 48, st.get(ValueLayout.JAVA_LONG, 64));
      int[][] times = {{64, 72}, {96, 104}, {112, 88}}; // atime, ctime, mtime: statx offset, stat offset
      for (int[] t : times) {
        x.set(ValueLayout.JAVA_LONG, t[0], st.get(ValueLayout.JAVA_LONG, t[1]));
        x.set(ValueLayout.JAVA_INT, t[0] + 8, (int) st.get(ValueLayout.JAVA_LONG, t[1] + 8));
      }
      x.set(ValueLayout.JAVA_INT, 128, major(rdev));
      x.set(ValueLayout.JAVA_INT, 132, minor(rdev));
      x.set(ValueLayout.JAVA_INT, 136, major(dev));
      x.set(ValueLayout.JAVA_INT, 140, minor(dev));
      c.mem().write(c.a(4), x, 0, 256);
    }
    return 0;
  }

  private static int major(long dev) {
    return (int) (((dev >>> 32) & 0xfffff000L) | ((dev >>> 8) & 0xfff));
  }

  private static int minor(long dev) {
    return (int) (((dev >>> 12) & 0xffffff00L) | (dev & 0xff));
  }

  // ---------------------------------------------------------------- access, readlink

  private static long access(Call c, int dirfd, String path, int mode, int flags) {
    if ((mode & ~7) != 0 || (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EACCESS | AT_EMPTY_PATH)) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (path.isEmpty() && (flags & AT_EMPTY_PATH) == 0) {
      throw new SyscallError(LinuxErrno.ENOENT);
    }
    Vfs.Node n = path.isEmpty() ? resolve(c, AT_FDCWD, c.fds().get(dirfd).path(), true)
        : resolve(c, dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) == 0);
    if (n instanceof Vfs.VirtualNode v) {
      if (v.entry() == null) {
        throw new SyscallError(LinuxErrno.ENOENT, v.guestPath());
      }
      if ((mode & W_OK) != 0 && !v.guestPath().startsWith("/dev/")) {
        throw new SyscallError(LinuxErrno.EACCES, v.guestPath());
      }
      return 0;
    }
    Vfs.HostNode h = (Vfs.HostNode) n;
    int fd = hostPath(c, h);
    try (Arena a = Arena.ofConfined()) {
      if ((mode & W_OK) != 0 && !h.mount().writable()) {
        MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
        check(Host.fstat(fd, st));
        int type = Stat.mode(st) & 0170000;
        if (type == Stat.S_IFREG || type == Stat.S_IFDIR || type == Stat.S_IFLNK) {
          throw new SyscallError(LinuxErrno.EROFS, h.guestPath());
        }
      }
      check(Host.faccessat2(fd, new byte[0], mode, Host.AT_EMPTY_PATH | (flags & AT_EACCESS)));
      return 0;
    } finally {
      Host.close(fd);
    }
  }

  private static long readlink(Call c, int dirfd, String path, long buf, long size) {
    if ((int) size <= 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    byte[] target;
    if (path.isEmpty()) {
      throw new SyscallError(LinuxErrno.ENOENT);
    }
    Vfs.Node n = resolve(c, dirfd, path, false);
    if (n instanceof Vfs.VirtualNode v) {
      if (v.entry() == null) {
        throw new SyscallError(LinuxErrno.ENOENT, v.guestPath());
      }
      String text = v.entry().readlinkText();
      if (text == null) {
        throw new SyscallError(LinuxErrno.EINVAL, v.guestPath());
      }
      target = PathBytes.bytes(text);
    } else {
      int fd = hostPath(c, (Vfs.HostNode) n);
      try (Arena a = Arena.ofConfined()) {
        MemorySegment b = a.allocate(4096);
        long len = Host.readlinkat(fd, new byte[0], b, 4096);
        if (len == -LinuxErrno.ENOENT) {
          throw new SyscallError(LinuxErrno.EINVAL, n.guestPath()); // not a link
        }
        check(len);
        target = b.asSlice(0, len).toArray(ValueLayout.JAVA_BYTE);
      } finally {
        Host.close(fd);
      }
    }
    int len = (int) Math.min(target.length, size);
    c.mem().write(buf, MemorySegment.ofArray(target), 0, len);
    return len;
  }

  // ---------------------------------------------------------------- directories

  private static long getcwd(Call c) {
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

  private static long fchdir(Call c) {
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

  // ---------------------------------------------------------------- attributes

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

  private static long utimensat(Call c) {
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

  private static long utime(Call c) {
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

  private static long truncate(Call c) {
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
      return check(Host.ftruncate(fd, len));
    } finally {
      Host.close(fd);
    }
  }

  private static long ftruncate(Call c) {
    FileDescription d = c.fd(0);
    long len = c.a(1);
    if (len < 0 || !(d instanceof HostFileDescription h) || !h.isRegular() || !d.writable()) {
      throw new SyscallError(len < 0 || !d.writable() ? LinuxErrno.EINVAL : LinuxErrno.EINVAL);
    }
    return check(Host.ftruncate(h.hostFd(), len));
  }

  private static long statfs(Call c, int dirfd, String path, long buf, int flags) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment sf = a.allocate(120, 8);
      sf.fill((byte) 0);
      FileDescription d = path.isEmpty() ? c.fds().get(dirfd) : null;
      Vfs.Node n = d != null ? null : resolve(c, dirfd, path, true);
      if (d instanceof HostFileDescription h) {
        check(Host.fstatfs(h.hostFd(), sf));
      } else if (n instanceof Vfs.HostNode h) {
        int fd = hostPath(c, h);
        try {
          check(Host.fstatfs(fd, sf));
        } finally {
          Host.close(fd);
        }
      } else {
        if (n instanceof Vfs.VirtualNode v && v.entry() == null) {
          throw new SyscallError(LinuxErrno.ENOENT, v.guestPath());
        }
        String p = d != null ? d.path() : n.guestPath();
        sf.set(ValueLayout.JAVA_LONG, 0, p.startsWith("/dev") ? 0x01021994L : 0x9fa0L); // TMPFS / PROC magic
        sf.set(ValueLayout.JAVA_LONG, 8, 4096);
        sf.set(ValueLayout.JAVA_LONG, 64, 255);
        sf.set(ValueLayout.JAVA_LONG, 72, 4096);
      }
      c.mem().write(buf, sf, 0, 120);
      return 0;
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
