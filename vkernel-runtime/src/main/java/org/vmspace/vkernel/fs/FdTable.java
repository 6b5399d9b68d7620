package org.vmspace.vkernel.fs;

import java.util.Map;
import java.util.TreeMap;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * A process's file descriptors: each a reference to an open file description and its
 * close-on-exec flag. Thread-safe (one lock per table).
 *
 * <p>The single place descriptors are allocated, so the single place RLIMIT_NOFILE is enforced:
 * {@link #install} fails with EMFILE and {@link #installAt} with EBADF for a descriptor at or
 * above the table's {@linkplain #limit(long) limit} (the owner's soft RLIMIT_NOFILE). A table
 * shared by processes with CLONE_FILES but not CLONE_THREAD holds the limit last set by one of
 * them (Linux takes the caller's; the difference only shows for such processes with different
 * limits).
 */
public final class FdTable {
  /**
   * The most descriptors any process may have: Linux's {@code fs.nr_open} default, the ceiling
   * of RLIMIT_NOFILE's hard limit.
   */
  public static final int NR_OPEN = 1 << 20;
  /** RLIMIT_NOFILE's usual value, the default limit of a new table. */
  public static final int DEFAULT_LIMIT = 1024;

  private FileDescription[] files = new FileDescription[64];
  private boolean[] cloexec = new boolean[64];
  /** Descriptors at or above this are refused (soft RLIMIT_NOFILE, at most NR_OPEN). */
  private int limit = DEFAULT_LIMIT;
  /** Processes using the table (CLONE_FILES shares it). */
  private final java.util.concurrent.atomic.AtomicInteger users = new java.util.concurrent.atomic.AtomicInteger(1);

  /** Another process shares this table (clone with CLONE_FILES). */
  public FdTable share() {
    users.incrementAndGet();
    return this;
  }

  /** A process no longer uses the table; the last one closes every descriptor. */
  public void release() {
    if (users.decrementAndGet() == 0) {
      closeAll();
    }
  }

  /**
   * Sets the descriptor limit (the soft RLIMIT_NOFILE; RLIM_INFINITY and larger values mean
   * {@link #NR_OPEN}). Open descriptors above it stay open, as on Linux.
   */
  public synchronized void limit(long rlimit) {
    this.limit = Long.compareUnsigned(rlimit, NR_OPEN) > 0 ? NR_OPEN : (int) rlimit;
  }

  /** The descriptor limit: descriptors from here up cannot be allocated. */
  public synchronized int limit() {
    return limit;
  }

  /** One more than the highest slot that may hold a descriptor (for scans such as close_range). */
  public synchronized int size() {
    return files.length;
  }

  /** Makes room for descriptor {@code fd} (below NR_OPEN). */
  private void ensure(int fd) {
    if (fd >= files.length) {
      int n = Math.min(NR_OPEN, Math.max(fd + 1, files.length * 2));
      files = java.util.Arrays.copyOf(files, n);
      cloexec = java.util.Arrays.copyOf(cloexec, n);
    }
  }

  /** The description behind {@code fd}. */
  public synchronized FileDescription get(int fd) {
    if (fd < 0 || fd >= files.length || files[fd] == null) {
      throw new SyscallError(LinuxErrno.EBADF, "fd " + fd);
    }
    return files[fd];
  }

  /** Whether {@code fd} is open. */
  public synchronized boolean isOpen(int fd) {
    return fd >= 0 && fd < files.length && files[fd] != null;
  }

  /**
   * Installs {@code d} (whose reference the table takes over) at the lowest free descriptor at
   * or above {@code min}.
   *
   * @throws SyscallError EMFILE when none is free below the limit (the reference is released
   *     then)
   */
  public synchronized int install(FileDescription d, int min, boolean closeOnExec) {
    for (int fd = Math.max(0, min); fd < limit; fd++) {
      ensure(fd);
      if (files[fd] == null) {
        files[fd] = d;
        cloexec[fd] = closeOnExec;
        return fd;
      }
    }
    d.release();
    throw new SyscallError(LinuxErrno.EMFILE);
  }

  /**
   * dup2/dup3: puts {@code d} (a new reference) at exactly {@code fd}, closing what was there.
   *
   * @throws SyscallError EBADF if {@code fd} is negative or not below the limit (the reference is
   *     released then)
   */
  public void installAt(FileDescription d, int fd, boolean closeOnExec) {
    FileDescription old;
    synchronized (this) {
      if (fd < 0 || fd >= limit) {
        d.release();
        throw new SyscallError(LinuxErrno.EBADF, "fd " + fd + " is not below RLIMIT_NOFILE " + limit);
      }
      ensure(fd);
      old = files[fd];
      files[fd] = d;
      cloexec[fd] = closeOnExec;
    }
    if (old != null) {
      old.release();
    }
  }

  /** close(2). */
  public void close(int fd) {
    FileDescription old;
    synchronized (this) {
      if (fd < 0 || fd >= files.length || files[fd] == null) {
        throw new SyscallError(LinuxErrno.EBADF);
      }
      old = files[fd];
      files[fd] = null;
    }
    old.release();
  }

  public synchronized boolean closeOnExec(int fd) {
    get(fd);
    return cloexec[fd];
  }

  public synchronized void closeOnExec(int fd, boolean on) {
    get(fd);
    cloexec[fd] = on;
  }

  /** A copy for a child process: the same descriptions, each with one more reference. */
  public synchronized FdTable copy() {
    FdTable t = new FdTable();
    t.limit = limit;
    t.ensure(files.length - 1);
    for (int fd = 0; fd < files.length; fd++) {
      if (files[fd] != null) {
        t.files[fd] = files[fd].retain();
        t.cloexec[fd] = cloexec[fd];
      }
    }
    return t;
  }

  /** execve: closes the close-on-exec descriptors. */
  public void closeOnExec(java.util.function.Consumer<FileDescription> beforeClose) {
    java.util.List<FileDescription> closed = new java.util.ArrayList<>();
    synchronized (this) {
      for (int fd = 0; fd < files.length; fd++) {
        if (files[fd] != null && cloexec[fd]) {
          closed.add(files[fd]);
          files[fd] = null;
        }
      }
    }
    closed.forEach(beforeClose);
    closed.forEach(FileDescription::release);
  }

  /** exit: closes everything. */
  public void closeAll() {
    java.util.List<FileDescription> closed = new java.util.ArrayList<>();
    synchronized (this) {
      for (int fd = 0; fd < files.length; fd++) {
        if (files[fd] != null) {
          closed.add(files[fd]);
          files[fd] = null;
        }
      }
    }
    closed.forEach(FileDescription::release);
  }

  /** The open descriptors (for /proc/PID/fd). */
  public synchronized Map<Integer, FileDescription> snapshot() {
    Map<Integer, FileDescription> m = new TreeMap<>();
    for (int fd = 0; fd < files.length; fd++) {
      if (files[fd] != null) {
        m.put(fd, files[fd]);
      }
    }
    return m;
  }
}
