package org.vmspace.vkernel.fs;

import java.util.Map;
import java.util.TreeMap;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * A process's file descriptors: each a reference to an open file description and its
 * close-on-exec flag. Thread-safe (one lock per table).
 */
public final class FdTable {
  /** The most descriptors a process may have (RLIMIT_NOFILE). */
  public static final int LIMIT = 1024;

  private final FileDescription[] files = new FileDescription[LIMIT];
  private final boolean[] cloexec = new boolean[LIMIT];
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

  /** The description behind {@code fd}. */
  public synchronized FileDescription get(int fd) {
    if (fd < 0 || fd >= LIMIT || files[fd] == null) {
      throw new SyscallError(LinuxErrno.EBADF, "fd " + fd);
    }
    return files[fd];
  }

  /** Whether {@code fd} is open. */
  public synchronized boolean isOpen(int fd) {
    return fd >= 0 && fd < LIMIT && files[fd] != null;
  }

  /**
   * Installs {@code d} (whose reference the table takes over) at the lowest free descriptor at
   * or above {@code min}.
   *
   * @throws SyscallError EMFILE when none is free (the reference is released then)
   */
  public synchronized int install(FileDescription d, int min, boolean closeOnExec) {
    for (int fd = Math.max(0, min); fd < LIMIT; fd++) {
      if (files[fd] == null) {
        files[fd] = d;
        cloexec[fd] = closeOnExec;
        return fd;
      }
    }
    d.release();
    throw new SyscallError(LinuxErrno.EMFILE);
  }

  /** dup2/dup3: puts {@code d} (a new reference) at exactly {@code fd}, closing what was there. */
  public void installAt(FileDescription d, int fd, boolean closeOnExec) {
    if (fd < 0 || fd >= LIMIT) {
      d.release();
      throw new SyscallError(LinuxErrno.EBADF);
    }
    FileDescription old;
    synchronized (this) {
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
      if (fd < 0 || fd >= LIMIT || files[fd] == null) {
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
    for (int fd = 0; fd < LIMIT; fd++) {
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
      for (int fd = 0; fd < LIMIT; fd++) {
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
      for (int fd = 0; fd < LIMIT; fd++) {
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
    for (int fd = 0; fd < LIMIT; fd++) {
      if (files[fd] != null) {
        m.put(fd, files[fd]);
      }
    }
    return m;
  }
}
