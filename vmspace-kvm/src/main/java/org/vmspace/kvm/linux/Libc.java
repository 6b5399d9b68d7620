package org.vmspace.kvm.linux;

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
 * Downcalls into the C library. Each method is one call: it returns the result or throws a
 * {@link LinuxException} with the errno; the {@code raw} variants used on hot paths return
 * {@code -errno} instead of throwing.
 *
 * <p>errno is captured through {@link Linker.Option#captureCallState}: callers on a hot path
 * pass their own capture segment ({@link #newErrnoCapture}); the others use a per-thread one.
 *
 * <p>This class is the only place that uses FFM's restricted methods
 * (downcall linking and {@code reinterpret}).
 */
@SuppressWarnings("restricted")
public final class Libc {
  public static final int O_RDONLY = 0;
  public static final int O_RDWR = 2;
  public static final int O_CLOEXEC = 0x80000;

  public static final int PROT_NONE = 0;
  public static final int PROT_READ = 1;
  public static final int PROT_WRITE = 2;
  public static final int MAP_SHARED = 0x01;
  public static final int MAP_PRIVATE = 0x02;
  public static final int MAP_FIXED = 0x10;
  public static final int MAP_ANONYMOUS = 0x20;
  public static final int MAP_NORESERVE = 0x4000;

  public static final int MFD_CLOEXEC = 1;
  public static final int FALLOC_FL_KEEP_SIZE = 1;
  public static final int FALLOC_FL_PUNCH_HOLE = 2;
  public static final int MADV_DONTNEED = 4;
  public static final int MADV_REMOVE = 9;
  /** Asks for transparent huge pages under the range (shmem: only where shmem_enabled allows). */
  public static final int MADV_HUGEPAGE = 14;
  public static final int MADV_NOHUGEPAGE = 15;

  public static final int SIG_BLOCK = 0;
  public static final int SIG_UNBLOCK = 1;
  public static final int SIG_SETMASK = 2;
  /** sizeof(sigset_t) in glibc. */
  public static final long SIGSET_SIZE = 128;
  /** sizeof(siginfo_t). */
  public static final long SIGINFO_SIZE = 128;
  public static final int SI_TIMER = -2;
  public static final int SI_TKILL = -6;
  public static final int CLOCK_MONOTONIC = 1;
  public static final int SIGEV_SIGNAL = 0;
  public static final int SIGEV_THREAD_ID = 4;

  private static final Linker LINKER = Linker.nativeLinker();
  private static final SymbolLookup LOOKUP = LINKER.defaultLookup();
  private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO =
      CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
  private static final Linker.Option CAPTURE = Linker.Option.captureCallState("errno");

  private static final ThreadLocal<MemorySegment> THREAD_CAPTURE =
      ThreadLocal.withInitial(Libc::newErrnoCapture);

  private static final MethodHandle OPEN =
      downcall("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), 2);
  private static final MethodHandle CLOSE =
      downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), -1);
  private static final MethodHandle IOCTL_LONG =
      downcall("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), 2);
  private static final MethodHandle IOCTL_PTR =
      downcall("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), 2);
  private static final MethodHandle MMAP =
      downcall(
          "mmap",
          FunctionDescriptor.of(ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG),
          -1);
  private static final MethodHandle MUNMAP =
      downcall("munmap", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG), -1);
  private static final MethodHandle MADVISE =
      downcall("madvise", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT), -1);
  private static final MethodHandle MEMFD_CREATE =
      downcall("memfd_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), -1);
  private static final MethodHandle PREAD =
      downcall("pread", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG), -1);
  private static final MethodHandle FSTAT_SIZE =
      downcall("lseek", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT), -1);
  private static final MethodHandle FTRUNCATE =
      downcall("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG), -1);
  private static final MethodHandle FALLOCATE =
      downcall("fallocate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), -1);
  private static final MethodHandle GETTID =
      downcall("gettid", FunctionDescriptor.of(JAVA_INT), -1);
  private static final MethodHandle GETPID =
      downcall("getpid", FunctionDescriptor.of(JAVA_INT), -1);
  private static final MethodHandle TGKILL =
      downcall("tgkill", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), -1);
  private static final MethodHandle PTHREAD_SIGMASK =
      LINKER.downcallHandle(
          LOOKUP.findOrThrow("pthread_sigmask"),
          FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle SIGTIMEDWAIT =
      downcall("sigtimedwait", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS), -1);
  private static final MethodHandle SIGPENDING =
      downcall("sigpending", FunctionDescriptor.of(JAVA_INT, ADDRESS), -1);
  private static final MethodHandle TIMER_CREATE =
      downcall("timer_create", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), -1);
  private static final MethodHandle TIMER_SETTIME =
      downcall(
          "timer_settime", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS), -1);
  private static final MethodHandle TIMER_DELETE =
      downcall("timer_delete", FunctionDescriptor.of(JAVA_INT, JAVA_LONG), -1);
  private static final MethodHandle SIGRTMIN =
      LINKER.downcallHandle(
          LOOKUP.findOrThrow("__libc_current_sigrtmin"), FunctionDescriptor.of(JAVA_INT));
  private static final MethodHandle STRERROR =
      LINKER.downcallHandle(LOOKUP.findOrThrow("strerror"), FunctionDescriptor.of(ADDRESS, JAVA_INT));

  private Libc() {}

  private static MethodHandle downcall(String name, FunctionDescriptor fd, int firstVariadic) {
    MemorySegment symbol = LOOKUP.findOrThrow(name);
    return firstVariadic >= 0
        ? LINKER.downcallHandle(symbol, fd, CAPTURE, Linker.Option.firstVariadicArg(firstVariadic))
        : LINKER.downcallHandle(symbol, fd, CAPTURE);
  }

  /**
   * A new errno capture segment for a caller that makes many calls from one thread at a time
   * (a vCPU). It lives as long as it is reachable.
   */
  public static MemorySegment newErrnoCapture() {
    return Arena.ofAuto().allocate(CAPTURE_LAYOUT);
  }

  /** The errno captured in {@code capture} by the last call that used it. */
  public static int errno(MemorySegment capture) {
    return (int) ERRNO.get(capture, 0L);
  }

  private static MemorySegment capture() {
    return THREAD_CAPTURE.get();
  }

  private static int check(int result, String call, MemorySegment capture) {
    if (result < 0) {
      throw new LinuxException(call, errno(capture));
    }
    return result;
  }

  private static RuntimeException rethrow(Throwable t) {
    if (t instanceof RuntimeException r) {
      return r;
    }
    if (t instanceof Error e) {
      throw e;
    }
    return new IllegalStateException(t);
  }

  // ---------------------------------------------------------------- files

  /** open(2). */
  public static int open(String path, int flags) {
    MemorySegment capture = capture();
    try (Arena arena = Arena.ofConfined()) {
      int fd = (int) OPEN.invokeExact(capture, arena.allocateFrom(path), flags, 0);
      return check(fd, "open(" + path + ")", capture);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** close(2); EINTR is not retried (the descriptor is gone either way on Linux). */
  public static void close(int fd) {
    MemorySegment capture = capture();
    try {
      int r = (int) CLOSE.invokeExact(capture, fd);
      if (r < 0 && errno(capture) != Errnos.EINTR) {
        throw new LinuxException("close(" + fd + ")", errno(capture));
      }
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** ioctl(2) with an integer argument; throws on failure. */
  public static int ioctl(int fd, long request, long arg, String name) {
    MemorySegment capture = capture();
    return check(ioctlRaw(capture, fd, request, arg), "ioctl(" + name + ")", capture);
  }

  /** ioctl(2) with a pointer argument; throws on failure. */
  public static int ioctl(int fd, long request, MemorySegment arg, String name) {
    MemorySegment capture = capture();
    return check(ioctlRaw(capture, fd, request, arg), "ioctl(" + name + ")", capture);
  }

  /** ioctl(2) with an integer argument: the result, or {@code -errno}. */
  public static int ioctlRaw(MemorySegment capture, int fd, long request, long arg) {
    try {
      int r = (int) IOCTL_LONG.invokeExact(capture, fd, request, arg);
      return r < 0 ? -errno(capture) : r;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** ioctl(2) with a pointer argument: the result, or {@code -errno}. */
  public static int ioctlRaw(MemorySegment capture, int fd, long request, MemorySegment arg) {
    try {
      int r = (int) IOCTL_PTR.invokeExact(capture, fd, request, arg);
      return r < 0 ? -errno(capture) : r;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  // ---------------------------------------------------------------- memory

  /**
   * mmap(2) of {@code length} bytes; the result is a segment of that length, not tied to any
   * arena: the caller unmaps it with {@link #munmap}.
   */
  public static MemorySegment mmap(long addr, long length, int prot, int flags, int fd, long offset) {
    MemorySegment capture = capture();
    try {
      MemorySegment p =
          (MemorySegment) MMAP.invokeExact(capture, addr, length, prot, flags, fd, offset);
      if (p.address() == -1L) {
        throw new LinuxException("mmap(" + length + " bytes)", errno(capture));
      }
      return p.reinterpret(length);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * mmap(2) whose segment belongs to {@code arena}: accessible while the arena is open and
   * unmapped when it closes. With a shared arena, a thread that touches the segment after the
   * close gets an {@link IllegalStateException} rather than a crash.
   */
  public static MemorySegment mmap(
      long length, int prot, int flags, int fd, long offset, Arena arena) {
    MemorySegment raw = mmap(0, length, prot, flags, fd, offset);
    long address = raw.address();
    return MemorySegment.ofAddress(address)
        .reinterpret(length, arena, s -> munmapRaw(address, length));
  }

  /**
   * Like {@link #mmap(long, int, int, int, long, Arena)}, but the mapping starts at a multiple of
   * {@code alignment} (a power of two, at least a page). The kernel can back a range with huge
   * pages, and KVM map them as large leaves, only where host-virtual and guest-physical
   * addresses agree modulo the huge-page size; a plain mmap is only page-aligned.
   *
   * <p>Reserves {@code length + alignment} bytes of inaccessible address space, maps the file
   * over its first aligned part with {@code MAP_FIXED} and gives the slack on both sides back.
   */
  public static MemorySegment mmapAligned(
      long length, long alignment, int prot, int flags, int fd, long offset, Arena arena) {
    if (alignment < 4096 || Long.bitCount(alignment) != 1) {
      throw new IllegalArgumentException("alignment must be a power of two >= 4096: " + alignment);
    }
    long span = Math.addExact(length, alignment);
    MemorySegment reserve =
        mmap(0, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    long start = reserve.address();
    long aligned = (start + alignment - 1) & -alignment;
    try {
      mmap(aligned, length, prot, flags | MAP_FIXED, fd, offset);
    } catch (RuntimeException e) {
      munmapRaw(start, span);
      throw e;
    }
    if (aligned > start) {
      munmapRaw(start, aligned - start);
    }
    long tail = start + span - (aligned + length);
    if (tail > 0) {
      munmapRaw(aligned + length, tail);
    }
    return MemorySegment.ofAddress(aligned)
        .reinterpret(length, arena, s -> munmapRaw(aligned, length));
  }

  private static void munmapRaw(long address, long length) {
    MemorySegment capture = capture();
    try {
      int r = (int) MUNMAP.invokeExact(capture, address, length);
      check(r, "munmap", capture);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** munmap(2). */
  public static void munmap(MemorySegment mapping) {
    MemorySegment capture = capture();
    try {
      int r = (int) MUNMAP.invokeExact(capture, mapping.address(), mapping.byteSize());
      check(r, "munmap", capture);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** madvise(2) on a page-aligned slice. */
  public static void madvise(MemorySegment range, int advice) {
    MemorySegment capture = capture();
    try {
      int r = (int) MADVISE.invokeExact(capture, range.address(), range.byteSize(), advice);
      check(r, "madvise(" + advice + ")", capture);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** memfd_create(2). */
  public static int memfdCreate(String name, int flags) {
    MemorySegment capture = capture();
    try (Arena arena = Arena.ofConfined()) {
      int fd = (int) MEMFD_CREATE.invokeExact(capture, arena.allocateFrom(name), flags);
      return check(fd, "memfd_create(" + name + ")", capture);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * pread(2) into {@code dst} until it is full or the file ends, retrying on EINTR.
   *
   * @return the bytes read (less than the segment's size at end of file)
   */
  public static long pread(int fd, MemorySegment dst, long offset) {
    MemorySegment capture = capture();
    long done = 0;
    try {
      while (done < dst.byteSize()) {
        long r = (long) PREAD.invokeExact(capture, fd, dst.asSlice(done), dst.byteSize() - done, offset + done);
        if (r < 0) {
          if (errno(capture) == Errnos.EINTR) {
            continue;
          }
          throw new LinuxException("pread", errno(capture));
        }
        if (r == 0) {
          break;
        }
        done += r;
      }
      return done;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** The size of the file open on {@code fd} (lseek to its end). */
  public static long fileSize(int fd) {
    MemorySegment capture = capture();
    try {
      long r = (long) FSTAT_SIZE.invokeExact(capture, fd, 0L, 2 /* SEEK_END */);
      if (r < 0) {
        throw new LinuxException("lseek", errno(capture));
      }
      return r;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** ftruncate(2). */
  public static void ftruncate(int fd, long length) {
    MemorySegment capture = capture();
    try {
      check((int) FTRUNCATE.invokeExact(capture, fd, length), "ftruncate", capture);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** fallocate(2). */
  public static void fallocate(int fd, int mode, long offset, long length) {
    MemorySegment capture = capture();
    try {
      check((int) FALLOCATE.invokeExact(capture, fd, mode, offset, length), "fallocate", capture);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  // ---------------------------------------------------------------- threads and signals

  /** gettid(2): the calling thread's kernel id. */
  public static int gettid() {
    try {
      return (int) GETTID.invokeExact(capture());
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** getpid(2). */
  public static int getpid() {
    try {
      return (int) GETPID.invokeExact(capture());
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** tgkill(2): the result, or {@code -errno} (ESRCH when the thread is gone). */
  public static int tgkill(int tgid, int tid, int signal) {
    MemorySegment capture = capture();
    try {
      int r = (int) TGKILL.invokeExact(capture, tgid, tid, signal);
      return r < 0 ? -errno(capture) : r;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** A new, empty sigset_t in {@code arena}. */
  public static MemorySegment newSigset(Arena arena) {
    return arena.allocate(SIGSET_SIZE, 8);
  }

  /** sigaddset(3), done in Java: glibc's sigset_t is a bit array of unsigned longs. */
  public static void sigaddset(MemorySegment set, int signal) {
    int bit = signal - 1;
    long word = set.get(JAVA_LONG, (bit / 64) * 8L);
    set.set(JAVA_LONG, (bit / 64) * 8L, word | (1L << (bit % 64)));
  }

  /** sigdelset(3), done in Java. */
  public static void sigdelset(MemorySegment set, int signal) {
    int bit = signal - 1;
    long word = set.get(JAVA_LONG, (bit / 64) * 8L);
    set.set(JAVA_LONG, (bit / 64) * 8L, word & ~(1L << (bit % 64)));
  }

  /** sigismember(3), done in Java. */
  public static boolean sigismember(MemorySegment set, int signal) {
    int bit = signal - 1;
    return (set.get(JAVA_LONG, (bit / 64) * 8L) & (1L << (bit % 64))) != 0;
  }

  /** pthread_sigmask(3) for the calling thread; {@code set} or {@code old} may be NULL. */
  public static void pthreadSigmask(int how, MemorySegment set, MemorySegment old) {
    try {
      int r = (int) PTHREAD_SIGMASK.invokeExact(how, set, old);
      if (r != 0) {
        throw new LinuxException("pthread_sigmask", r);
      }
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** sigpending(2) into {@code set}. */
  public static void sigpending(MemorySegment set) {
    MemorySegment capture = capture();
    try {
      check((int) SIGPENDING.invokeExact(capture, set), "sigpending", capture);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * sigtimedwait(2): the signal taken, or {@code -errno} ({@code -EAGAIN} when none is pending
   * within the timeout).
   */
  public static int sigtimedwaitRaw(
      MemorySegment capture, MemorySegment set, MemorySegment info, MemorySegment timeout) {
    try {
      int r = (int) SIGTIMEDWAIT.invokeExact(capture, set, info, timeout);
      return r < 0 ? -errno(capture) : r;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** glibc's SIGRTMIN (the first real-time signal free for applications). */
  public static int sigrtmin() {
    try {
      return (int) SIGRTMIN.invokeExact();
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * timer_create(2) on CLOCK_MONOTONIC delivering {@code signal} to the thread {@code tid}
   * (SIGEV_THREAD_ID).
   *
   * @return the timer id
   */
  public static long timerCreateForThread(int signal, int tid) {
    MemorySegment capture = capture();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment sev = arena.allocate(64, 8);
      sev.set(JAVA_INT, 8, signal); // sigev_signo
      sev.set(JAVA_INT, 12, SIGEV_THREAD_ID); // sigev_notify
      sev.set(JAVA_INT, 16, tid); // _sigev_un._tid
      MemorySegment id = arena.allocate(JAVA_LONG);
      int r = (int) TIMER_CREATE.invokeExact(capture, CLOCK_MONOTONIC, sev, id);
      check(r, "timer_create", capture);
      return id.get(JAVA_LONG, 0);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * timer_settime(2), relative: arms the timer to fire once after {@code nanos}, or disarms it
   * when {@code nanos} is 0. {@code spec} is a caller-owned 32-byte scratch segment.
   *
   * @return 0 or {@code -errno}
   */
  public static int timerSettimeRaw(MemorySegment capture, long timer, long nanos, MemorySegment spec) {
    spec.set(JAVA_LONG, 0, 0); // it_interval
    spec.set(JAVA_LONG, 8, 0);
    spec.set(JAVA_LONG, 16, nanos / 1_000_000_000L); // it_value
    spec.set(JAVA_LONG, 24, nanos % 1_000_000_000L);
    try {
      int r = (int) TIMER_SETTIME.invokeExact(capture, timer, 0, spec, MemorySegment.NULL);
      return r < 0 ? -errno(capture) : r;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** timer_delete(2). */
  public static void timerDelete(long timer) {
    MemorySegment capture = capture();
    try {
      check((int) TIMER_DELETE.invokeExact(capture, timer), "timer_delete", capture);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** strerror(3). */
  public static String strerror(int errno) {
    try {
      MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
      return s.reinterpret(256).getString(0);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }
}
