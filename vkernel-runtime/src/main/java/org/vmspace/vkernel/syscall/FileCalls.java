package org.vmspace.vkernel.syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.fs.Stat;
import org.vmspace.vkernel.fs.Vfs;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.PathBytes;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * System calls that open or look at a path: open, openat, creat, openat2, the stat family,
 * statx, access, readlink and statfs, and the resolution helpers of every path call. Paths
 * resolve in the guest's namespace ({@link Vfs}); host objects are then reached through
 * descriptors opened with {@code RESOLVE_IN_ROOT}, never through host path strings.
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

  static long open(Call c) {
    return open(c, AT_FDCWD, c.path(0), c.i(1), c.i(2));
  }

  static long openat(Call c) {
    return open(c, c.i(0), c.path(1), c.i(2), c.i(3));
  }

  static long creat(Call c) {
    return open(c, AT_FDCWD, c.path(0), Host.O_CREAT | Host.O_WRONLY | Host.O_TRUNC, c.i(1));
  }

  static long stat(Call c) {
    return stat(c, AT_FDCWD, c.path(0), c.a(1), 0);
  }

  static long lstat(Call c) {
    return stat(c, AT_FDCWD, c.path(0), c.a(1), AT_SYMLINK_NOFOLLOW);
  }

  static long fstat(Call c) {
    return stat(c, c.i(0), "", c.a(1), AT_EMPTY_PATH);
  }

  static long newfstatat(Call c) {
    return stat(c, c.i(0), c.path(1), c.a(2), c.i(3));
  }

  static long access(Call c) {
    return access(c, AT_FDCWD, c.path(0), c.i(1), 0);
  }

  static long faccessat(Call c) {
    return access(c, c.i(0), c.path(1), c.i(2), 0);
  }

  static long faccessat2(Call c) {
    return access(c, c.i(0), c.path(1), c.i(2), c.i(3));
  }

  static long readlink(Call c) {
    return readlink(c, AT_FDCWD, c.path(0), c.a(1), c.a(2));
  }

  static long readlinkat(Call c) {
    return readlink(c, c.i(0), c.path(1), c.a(2), c.a(3));
  }

  static long statfs(Call c) {
    return statfs(c, AT_FDCWD, c.path(0), c.a(1), 0);
  }

  static long fstatfs(Call c) {
    return statfs(c, c.i(0), "", c.a(1), AT_EMPTY_PATH);
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

  static long check(long r) {
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

  static long openat2(Call c) {
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
  static long statx(Call c) {
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
}
