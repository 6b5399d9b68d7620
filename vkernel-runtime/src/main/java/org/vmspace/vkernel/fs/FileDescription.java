package org.vmspace.vkernel.fs;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * An open file description: what a descriptor refers to, shared by dup(2), fork(2) and
 * SCM-less descriptor passing. Operations throw {@link SyscallError}; the default for an
 * operation a kind of file does not support is the errno Linux gives.
 *
 * <p>Reads and writes take a native buffer; callers copy to and from guest memory.
 */
public abstract class FileDescription {
  private final AtomicInteger refs = new AtomicInteger(1);
  /** O_APPEND, O_NONBLOCK and the access mode, as fcntl(F_GETFL) reports them. */
  protected volatile int statusFlags;
  private java.util.Map<Object, Runnable> onClose;

  protected FileDescription(int statusFlags) {
    this.statusFlags = statusFlags;
  }

  /** The guest-visible path (for /proc/self/fd and traces). */
  public abstract String path();

  /** Reads up to {@code len} bytes into {@code buf}; may block (see {@link #mayBlock()}). */
  public long read(MemorySegment buf, long len) {
    throw new SyscallError(LinuxErrno.EINVAL);
  }

  /** Writes {@code len} bytes of {@code buf}; may block. */
  public long write(MemorySegment buf, long len) {
    throw new SyscallError(LinuxErrno.EINVAL);
  }

  public long pread(MemorySegment buf, long len, long offset) {
    throw new SyscallError(LinuxErrno.ESPIPE);
  }

  public long pwrite(MemorySegment buf, long len, long offset) {
    throw new SyscallError(LinuxErrno.ESPIPE);
  }

  public long lseek(long offset, int whence) {
    throw new SyscallError(LinuxErrno.ESPIPE);
  }

  /** Fills a 144-byte {@code struct stat}. */
  public abstract void fstat(MemorySegment stat);

  /** getdents64(2) into {@code buf}. */
  public long getdents64(MemorySegment buf, long len) {
    throw new SyscallError(LinuxErrno.ENOTDIR);
  }

  /** ioctl(2) with a native argument buffer (size as the request encodes it). */
  public int ioctl(long request, MemorySegment arg) {
    throw new SyscallError(LinuxErrno.ENOTTY);
  }

  /**
   * The host descriptor to poll for readiness (pipes, terminals), or -1 if I/O never blocks
   * long (regular files, virtual files).
   */
  public int pollFd() {
    return -1;
  }

  /** The host descriptor behind this description, or -1 (virtual files). */
  public int hostFd() {
    return -1;
  }

  public int statusFlags() {
    return statusFlags;
  }

  /** Whether the guest asked for non-blocking I/O (O_NONBLOCK). */
  public boolean nonBlocking() {
    return (statusFlags & 0x800) != 0;
  }

  /** Whether it was opened for reading. */
  public boolean readable() {
    int acc = statusFlags & 3;
    return acc == 0 || acc == 2;
  }

  /** Whether it was opened for writing. */
  public boolean writable() {
    int acc = statusFlags & 3;
    return acc == 1 || acc == 2;
  }

  /** fcntl(F_SETFL): only O_APPEND and O_NONBLOCK change. */
  public void setStatusFlags(int flags) {
    int changeable = 0x400 | 0x800;
    statusFlags = (statusFlags & ~changeable) | (flags & changeable);
  }

  /** Another descriptor refers to this description. */
  public FileDescription retain() {
    refs.incrementAndGet();
    return this;
  }

  /**
   * Another reference from outside its descriptor tables (another process's /proc/PID/fd/N),
   * unless its last descriptor was closed meanwhile: then nothing is taken and the answer is
   * false. Reviving a closed description would hand out a host descriptor number the host may
   * already have given to another file.
   */
  public boolean tryRetain() {
    int n;
    do {
      n = refs.get();
      if (n <= 0) {
        return false;
      }
    } while (!refs.compareAndSet(n, n + 1));
    return true;
  }

  /** A descriptor no longer refers to it; the last release closes it. */
  public void release() {
    if (refs.decrementAndGet() == 0) {
      close();
      Runnable[] actions;
      synchronized (this) {
        actions = onClose == null ? new Runnable[0] : onClose.values().toArray(Runnable[]::new);
        onClose = null;
      }
      for (Runnable r : actions) {
        r.run();
      }
    }
  }

  /**
   * Runs {@code action} once when the last reference is released (the locks it owns are
   * freed so); a second action under the same {@code key} is ignored. The action must not throw.
   */
  public synchronized void whenClosed(Object key, Runnable action) {
    if (onClose == null) {
      onClose = new java.util.LinkedHashMap<>(2);
    }
    onClose.putIfAbsent(key, action);
  }

  /** Releases host resources; called once. */
  protected void close() {}
}
