package org.vmspace.vkernel.host;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * Host system calls. Each returns the call's result or {@code -errno}; none throws for a failed
 * call. Pointers are {@link MemorySegment}s the caller allocates. Thread-safe (errno is captured
 * per thread).
 */
@SuppressWarnings("restricted")
public final class Host {
  public static final int AT_FDCWD = -100;
  public static final int AT_SYMLINK_NOFOLLOW = 0x100;
  public static final int AT_REMOVEDIR = 0x200;
  public static final int AT_EMPTY_PATH = 0x1000;
  public static final int O_RDONLY = 0;
  public static final int O_WRONLY = 1;
  public static final int O_RDWR = 2;
  public static final int O_ACCMODE = 3;
  public static final int O_CREAT = 0x40;
  public static final int O_EXCL = 0x80;
  public static final int O_NOCTTY = 0x100;
  public static final int O_TRUNC = 0x200;
  public static final int O_APPEND = 0x400;
  public static final int O_NONBLOCK = 0x800;
  public static final int O_DIRECTORY = 0x10000;
  public static final int O_NOFOLLOW = 0x20000;
  public static final int O_CLOEXEC = 0x80000;
  public static final int O_PATH = 0x200000;
  public static final long RESOLVE_NO_SYMLINKS = 0x04;
  public static final long RESOLVE_IN_ROOT = 0x10;
  public static final short POLLIN = 1;
  public static final short POLLOUT = 4;
  public static final short POLLERR = 8;
  public static final short POLLHUP = 16;
  /** sizeof(struct stat) on x86-64. */
  public static final int STAT_SIZE = 144;

  private static final long SYS_OPENAT2 = 437;
  private static final long SYS_FACCESSAT2 = 439;
  private static final Linker LINKER = Linker.nativeLinker();
  private static final SymbolLookup LOOKUP = LINKER.defaultLookup();
  private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
  static final ThreadLocal<MemorySegment> CAPTURE =
      ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

  private static final MethodHandle SYSCALL_OPENAT2 = syscall(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG);
  private static final MethodHandle CLOSE = fn("close", JAVA_INT, JAVA_INT);
  private static final MethodHandle READ = fn("read", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG);
  private static final MethodHandle WRITE = fn("write", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG);
  private static final MethodHandle PREAD = fn("pread64", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG);
  private static final MethodHandle PWRITE = fn("pwrite64", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG);
  private static final MethodHandle LSEEK = fn("lseek", JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT);
  private static final MethodHandle FSTATAT = fn("fstatat", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT);
  private static final MethodHandle GETDENTS = fn("getdents64", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG);
  private static final MethodHandle READLINKAT = fn("readlinkat", JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG);
  private static final MethodHandle MKDIRAT = fn("mkdirat", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
  private static final MethodHandle MKNODAT = fn("mknodat", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG);
  private static final MethodHandle UNLINKAT = fn("unlinkat", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
  private static final MethodHandle RENAMEAT = fn("renameat", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS);
  private static final MethodHandle SYMLINKAT = fn("symlinkat", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS);
  private static final MethodHandle LINKAT = fn("linkat", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT);
  private static final MethodHandle FCHMOD = fn("fchmod", JAVA_INT, JAVA_INT, JAVA_INT);
  private static final MethodHandle FCHOWN = fn("fchown", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
  private static final MethodHandle FCHOWNAT = fn("fchownat", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT);
  private static final MethodHandle FCHMODAT = fn("fchmodat", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
  private static final MethodHandle SYSCALL_FACCESSAT2 = syscall(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
  private static final MethodHandle UTIMENSAT = fn("utimensat", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT);
  private static final MethodHandle FTRUNCATE = fn("ftruncate", JAVA_INT, JAVA_INT, JAVA_LONG);
  private static final MethodHandle FSYNC = fn("fsync", JAVA_INT, JAVA_INT);
  private static final MethodHandle FSTATFS = fn("fstatfs", JAVA_INT, JAVA_INT, ADDRESS);
  private static final MethodHandle POLL = fn("poll", JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
  private static final MethodHandle IOCTL = LINKER.downcallHandle(
      LOOKUP.findOrThrow("ioctl"), FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS),
      Linker.Option.captureCallState("errno"), Linker.Option.firstVariadicArg(2));
  private static final MethodHandle PIPE2 = fn("pipe2", JAVA_INT, ADDRESS, JAVA_INT);
  private static final MethodHandle EXIT_NOW =
      LINKER.downcallHandle(LOOKUP.findOrThrow("_exit"), FunctionDescriptor.ofVoid(JAVA_INT));
  private static final MethodHandle SOCKETPAIR = fn("socketpair", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS);
  private static final MethodHandle DUP = fn("dup", JAVA_INT, JAVA_INT);
  private static final MethodHandle EVENTFD = fn("eventfd", JAVA_INT, JAVA_INT, JAVA_INT);
  private static final MethodHandle KILL = fn("kill", JAVA_INT, JAVA_INT, JAVA_INT);
  private static final MethodHandle EPOLL_CREATE1 = fn("epoll_create1", JAVA_INT, JAVA_INT);
  private static final MethodHandle TIMERFD_CREATE = fn("timerfd_create", JAVA_INT, JAVA_INT, JAVA_INT);
  private static final MethodHandle TIMERFD_SETTIME = fn("timerfd_settime", JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
  private static final MethodHandle TIMERFD_GETTIME = fn("timerfd_gettime", JAVA_INT, JAVA_INT, ADDRESS);
  private static final MethodHandle EPOLL_CTL = fn("epoll_ctl", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS);
  private static final MethodHandle EPOLL_WAIT = fn("epoll_wait", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
  private static final MethodHandle FCNTL = LINKER.downcallHandle(
      LOOKUP.findOrThrow("fcntl"), FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
      Linker.Option.captureCallState("errno"), Linker.Option.firstVariadicArg(2));
  private static final MethodHandle FCNTL_PTR = LINKER.downcallHandle(
      LOOKUP.findOrThrow("fcntl"), FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS),
      Linker.Option.captureCallState("errno"), Linker.Option.firstVariadicArg(2));
  private static final MethodHandle FLOCK = fn("flock", JAVA_INT, JAVA_INT, JAVA_INT);
  private static final MethodHandle SCHED_GETCPU = LINKER.downcallHandle(LOOKUP.findOrThrow("sched_getcpu"), FunctionDescriptor.of(JAVA_INT));
  private static final MethodHandle GETUID = LINKER.downcallHandle(LOOKUP.findOrThrow("getuid"), FunctionDescriptor.of(JAVA_INT));
  private static final MethodHandle GETGID = LINKER.downcallHandle(LOOKUP.findOrThrow("getgid"), FunctionDescriptor.of(JAVA_INT));
  private static final MethodHandle GETEUID = LINKER.downcallHandle(LOOKUP.findOrThrow("geteuid"), FunctionDescriptor.of(JAVA_INT));
  private static final MethodHandle GETEGID = LINKER.downcallHandle(LOOKUP.findOrThrow("getegid"), FunctionDescriptor.of(JAVA_INT));

  private Host() {}

  static MethodHandle fn(String name, MemoryLayout ret, MemoryLayout... args) {
    return LINKER.downcallHandle(
        LOOKUP.findOrThrow(name), FunctionDescriptor.of(ret, args), Linker.Option.captureCallState("errno"));
  }

  private static MethodHandle syscall(MemoryLayout... args) {
    MemoryLayout[] all = new MemoryLayout[args.length + 1];
    all[0] = JAVA_LONG;
    System.arraycopy(args, 0, all, 1, args.length);
    return LINKER.downcallHandle(
        LOOKUP.findOrThrow("syscall"), FunctionDescriptor.of(JAVA_LONG, all),
        Linker.Option.captureCallState("errno"), Linker.Option.firstVariadicArg(1));
  }

  private static int errno(MemorySegment capture) {
    return (int) ERRNO.get(capture, 0L);
  }

  static RuntimeException rethrow(Throwable t) {
    if (t instanceof RuntimeException r) {
      return r;
    }
    if (t instanceof Error e) {
      throw e;
    }
    return new IllegalStateException(t);
  }

  static long ret(long r, MemorySegment c) {
    return r < 0 ? -errno(c) : r;
  }

  /** A C string in {@code arena}. */
  public static MemorySegment cstr(Arena arena, byte[] s) {
    MemorySegment m = arena.allocate(s.length + 1L);
    MemorySegment.copy(MemorySegment.ofArray(s), 0, m, 0, s.length);
    return m;
  }

  /** openat2(2): {@code dirfd}, a relative path, flags, mode and resolve flags. */
  public static int openat2(int dirfd, byte[] path, long flags, long mode, long resolve) {
    MemorySegment c = CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      MemorySegment how = a.allocate(24, 8);
      how.set(JAVA_LONG, 0, flags);
      how.set(JAVA_LONG, 8, mode);
      how.set(JAVA_LONG, 16, resolve);
      long r = (long) SYSCALL_OPENAT2.invokeExact(c, SYS_OPENAT2, dirfd, cstr(a, path), how, 24L);
      return (int) ret(r, c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * _exit(2): ends the process at once with {@code status}, without shutdown hooks or the JVM's
   * exit, which waits some 0.3 s (and more under load) when thousands of threads are in native
   * code, as guest threads parked in a blocking wait are. The caller has flushed and closed
   * whatever must not be lost. Does not return.
   */
  public static void exitNow(int status) {
    try {
      EXIT_NOW.invokeExact(status);
    } catch (Throwable t) {
      throw rethrow(t);
    }
    throw new IllegalStateException("_exit returned");
  }

  public static int close(int fd) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) CLOSE.invokeExact(c, fd), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static long read(int fd, MemorySegment buf, long len) {
    MemorySegment c = CAPTURE.get();
    try {
      return ret((long) READ.invokeExact(c, fd, buf, len), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static long write(int fd, MemorySegment buf, long len) {
    MemorySegment c = CAPTURE.get();
    try {
      return ret((long) WRITE.invokeExact(c, fd, buf, len), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static long pread(int fd, MemorySegment buf, long len, long offset) {
    MemorySegment c = CAPTURE.get();
    try {
      return ret((long) PREAD.invokeExact(c, fd, buf, len, offset), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static long pwrite(int fd, MemorySegment buf, long len, long offset) {
    MemorySegment c = CAPTURE.get();
    try {
      return ret((long) PWRITE.invokeExact(c, fd, buf, len, offset), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static long lseek(int fd, long offset, int whence) {
    MemorySegment c = CAPTURE.get();
    try {
      return ret((long) LSEEK.invokeExact(c, fd, offset, whence), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** fstatat(2) into a 144-byte {@code struct stat}. */
  public static int fstatat(int dirfd, byte[] path, MemorySegment stat, int flags) {
    MemorySegment c = CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      return (int) ret((int) FSTATAT.invokeExact(c, dirfd, cstr(a, path), stat, flags), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** fstat of an open descriptor (also O_PATH ones). */
  public static int fstat(int fd, MemorySegment stat) {
    return fstatat(fd, new byte[0], stat, AT_EMPTY_PATH);
  }

  public static long getdents64(int fd, MemorySegment buf, long len) {
    MemorySegment c = CAPTURE.get();
    try {
      return ret((long) GETDENTS.invokeExact(c, fd, buf, len), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** readlinkat(2); with an empty path, the symlink an O_PATH descriptor refers to. */
  public static long readlinkat(int dirfd, byte[] path, MemorySegment buf, long len) {
    MemorySegment c = CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      return ret((long) READLINKAT.invokeExact(c, dirfd, cstr(a, path), buf, len), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int mkdirat(int dirfd, byte[] name, int mode) {
    MemorySegment c = CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      return (int) ret((int) MKDIRAT.invokeExact(c, dirfd, cstr(a, name), mode), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** mknodat(2): a FIFO, socket or regular file (the kernel never asks for devices). */
  public static int mknodat(int dirfd, byte[] name, int mode, long dev) {
    MemorySegment c = CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      return (int) ret((int) MKNODAT.invokeExact(c, dirfd, cstr(a, name), mode, dev), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int unlinkat(int dirfd, byte[] name, int flags) {
    MemorySegment c = CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      return (int) ret((int) UNLINKAT.invokeExact(c, dirfd, cstr(a, name), flags), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int renameat(int olddir, byte[] oldName, int newdir, byte[] newName) {
    MemorySegment c = CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      return (int) ret((int) RENAMEAT.invokeExact(c, olddir, cstr(a, oldName), newdir, cstr(a, newName)), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int symlinkat(byte[] target, int dirfd, byte[] name) {
    MemorySegment c = CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      return (int) ret((int) SYMLINKAT.invokeExact(c, cstr(a, target), dirfd, cstr(a, name)), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int linkat(int olddir, byte[] oldName, int newdir, byte[] newName, int flags) {
    MemorySegment c = CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      return (int) ret((int) LINKAT.invokeExact(c, olddir, cstr(a, oldName), newdir, cstr(a, newName), flags), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int fchmod(int fd, int mode) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) FCHMOD.invokeExact(c, fd, mode), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int fchown(int fd, int uid, int gid) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) FCHOWN.invokeExact(c, fd, uid, gid), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** utimensat(2) on an open descriptor (empty path) or a name under dirfd. */
  public static int utimensat(int dirfd, byte[] path, MemorySegment times, int flags) {
    MemorySegment c = CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      MemorySegment p = path == null ? MemorySegment.NULL : cstr(a, path);
      return (int) ret((int) UTIMENSAT.invokeExact(c, dirfd, p, times, flags), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int ftruncate(int fd, long len) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) FTRUNCATE.invokeExact(c, fd, len), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int fsync(int fd) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) FSYNC.invokeExact(c, fd), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** fstatfs(2) into a 120-byte {@code struct statfs}. */
  public static int fstatfs(int fd, MemorySegment buf) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) FSTATFS.invokeExact(c, fd, buf), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** poll(2) over {@code n} {@code struct pollfd}s (8 bytes each). */
  public static int poll(MemorySegment fds, long n, int timeoutMs) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) POLL.invokeExact(c, fds, n, timeoutMs), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int ioctl(int fd, long request, MemorySegment arg) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) IOCTL.invokeExact(c, fd, request, arg), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** pipe2(2): the two descriptors, or {@code -errno} in element 0. */
  public static int[] pipe2(int flags) {
    MemorySegment c = CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      MemorySegment fds = a.allocate(8, 4);
      int r = (int) PIPE2.invokeExact(c, fds, flags);
      if (r < 0) {
        return new int[] {-errno(c), -1};
      }
      return new int[] {fds.get(JAVA_INT, 0), fds.get(JAVA_INT, 4)};
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** socketpair(2): the two descriptors, or {@code -errno} in element 0. */
  public static int[] socketpair(int domain, int type, int protocol) {
    MemorySegment c = CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      MemorySegment fds = a.allocate(8, 4);
      int r = (int) SOCKETPAIR.invokeExact(c, domain, type, protocol, fds);
      if (r < 0) {
        return new int[] {-errno(c), -1};
      }
      return new int[] {fds.get(JAVA_INT, 0), fds.get(JAVA_INT, 4)};
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int dup(int fd) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) DUP.invokeExact(c, fd), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** kill(2): sends host signal {@code sig} to host process {@code pid}. */
  public static int kill(int pid, int sig) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) KILL.invokeExact(c, pid, sig), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** timerfd_create(2); the descriptor or {@code -errno}. */
  public static int timerfdCreate(int clockId, int flags) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) TIMERFD_CREATE.invokeExact(c, clockId, flags), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** timerfd_settime(2) with 32-byte itimerspecs ({@code old} may be NULL); 0 or {@code -errno}. */
  public static int timerfdSettime(int fd, int flags, MemorySegment value, MemorySegment old) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) TIMERFD_SETTIME.invokeExact(c, fd, flags, value, old), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** timerfd_gettime(2) into a 32-byte itimerspec; 0 or {@code -errno}. */
  public static int timerfdGettime(int fd, MemorySegment value) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) TIMERFD_GETTIME.invokeExact(c, fd, value), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** epoll_create1(2); the descriptor or {@code -errno}. */
  public static int epollCreate1(int flags) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) EPOLL_CREATE1.invokeExact(c, flags), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** epoll_ctl(2) with a 12-byte packed {@code struct epoll_event}; 0 or {@code -errno}. */
  public static int epollCtl(int epfd, int op, int fd, MemorySegment event) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) EPOLL_CTL.invokeExact(c, epfd, op, fd, event), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** epoll_wait(2); the number of events or {@code -errno}. */
  public static int epollWait(int epfd, MemorySegment events, int max, int timeoutMs) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) EPOLL_WAIT.invokeExact(c, epfd, events, max, timeoutMs), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int eventfd(int initial, int flags) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) EVENTFD.invokeExact(c, initial, flags), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int fcntl(int fd, int cmd, int arg) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) FCNTL.invokeExact(c, fd, cmd, arg), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** fcntl(2) with a pointer argument (the lock commands' {@code struct flock}). */
  public static int fcntl(int fd, int cmd, MemorySegment arg) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) FCNTL_PTR.invokeExact(c, fd, cmd, arg), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** flock(2). */
  public static int flock(int fd, int op) {
    MemorySegment c = CAPTURE.get();
    try {
      return (int) ret((int) FLOCK.invokeExact(c, fd, op), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int getuid() {
    try {
      return (int) GETUID.invokeExact();
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int getgid() {
    try {
      return (int) GETGID.invokeExact();
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int geteuid() {
    try {
      return (int) GETEUID.invokeExact();
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static int getegid() {
    try {
      return (int) GETEGID.invokeExact();
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }
  /** fchownat(2); with AT_EMPTY_PATH and an empty path it changes the object {@code dirfd} refers to. */
  public static int fchownat(int dirfd, byte[] path, int uid, int gid, int flags) {
    MemorySegment c = CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      return (int) ret((int) FCHOWNAT.invokeExact(c, dirfd, cstr(a, path), uid, gid, flags), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** fchmodat(2) (flags 0: the path is followed). */
  public static int fchmodat(int dirfd, byte[] path, int mode) {
    MemorySegment c = CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      return (int) ret((int) FCHMODAT.invokeExact(c, dirfd, cstr(a, path), mode, 0), c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** faccessat2(2), which (unlike faccessat) takes AT_EMPTY_PATH and AT_EACCESS. */
  public static int faccessat2(int dirfd, byte[] path, int mode, int flags) {
    MemorySegment c = CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      long r = (long) SYSCALL_FACCESSAT2.invokeExact(c, SYS_FACCESSAT2, dirfd, cstr(a, path), mode, flags);
      return (int) ret(r, c);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** The host CPU the calling thread runs on. */
  public static int schedGetcpu() {
    try {
      return (int) SCHED_GETCPU.invokeExact();
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }
}
