package org.vmspace.vkernel.fs;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Advisory byte-range locks between the guest's processes, with Linux's semantics: POSIX
 * record locks (owned by a process), open-file-description locks (owned by a description) and,
 * in a separate table, flock(2) locks (owned by a description, always the whole file).
 *
 * <p>A lock covers {@code [start, end]} inclusive; {@link #TO_EOF} as the end means "to the end
 * of the file, however far it grows". Locks of one owner never overlap: setting a lock replaces
 * the owner's locks over its range (splitting them), and same-type locks that overlap or touch
 * are coalesced, as Linux does, so {@link #conflict} reports the extent Linux would. Two locks
 * conflict when their owners differ, their ranges overlap and one is a write lock.
 *
 * <p>Waiting (F_SETLKW, flock without LOCK_NB) is the caller's: it registers a waker with
 * {@link #wakeOnChange}, records whom it waits for with {@link #waitFor} (deadlock detection,
 * as Linux: only between POSIX owners, EDEADLK if the owner holding the conflicting lock is
 * itself, through a chain of at most {@value #MAX_DEADLOCK_CHAIN} waiters, waiting for the
 * caller), then blocks until woken. Every change that frees a range wakes the file's waiters.
 *
 * <p>A table made by {@link #mirroredOnHost} also takes each lock on the host ({@link
 * HostLocks}), so that host processes locking the same file exclude the guest and the guest
 * them: a lock a host process holds comes back as a conflict owned by {@link #HOST}. No change
 * of a host process's locks wakes a waiter; one that waits for {@link #HOST} polls.
 * Thread-safe.
 */
public final class FileLocks {
  /** The end of a lock that runs to the end of the file. */
  public static final long TO_EOF = Long.MAX_VALUE;
  /** How long a chain of waiters deadlock detection follows (Linux's MAX_DEADLK_ITERATIONS). */
  static final int MAX_DEADLOCK_CHAIN = 10;
  /** The owner of a conflicting lock held outside the vkernel (a host process). */
  public static final Object HOST = new Object() {
    @Override
    public String toString() {
      return "a lock held on the host";
    }
  };

  /** A lock's kind. */
  public enum Type {
    READ,
    WRITE
  }

  /**
   * One lock.
   *
   * @param owner who holds it (a process for POSIX locks, a description for OFD and flock locks)
   * @param pid the pid F_GETLK reports (-1 for OFD locks)
   */
  public record Lock(Object owner, int pid, Type type, long start, long end) {
    boolean overlaps(long s, long e) {
      return start <= e && s <= end;
    }

    boolean touches(long s, long e) {
      return overlaps(s, e) || (end != TO_EOF && end + 1 == s) || (e != TO_EOF && e + 1 == start);
    }
  }

  private final Map<HostInode, List<Lock>> locks = new HashMap<>();
  private final Map<HostInode, Set<Runnable>> wakers = new HashMap<>();
  private final Map<Object, Object> waitsFor = new HashMap<>();
  private final HostLocks host;

  /** A table of the vkernel's own, not mirrored on the host (tests). */
  public FileLocks() {
    this.host = null;
  }

  private FileLocks(HostLocks host) {
    this.host = host;
  }

  /**
   * A table whose locks are also taken on the host: fcntl record locks as OFD locks if {@code
   * flock} is false, flock locks otherwise.
   */
  public static FileLocks mirroredOnHost(boolean flock) {
    return new FileLocks(new HostLocks(flock ? HostLocks.Kind.FLOCK : HostLocks.Kind.RECORD));
  }

  /** The first lock of another owner that conflicts with {@code type} over the range, or null. */
  public synchronized Lock conflict(HostInode file, Object owner, Type type, long start, long end) {
    for (Lock l : locks.getOrDefault(file, List.of())) {
      if (l.owner() != owner && l.overlaps(start, end) && (type == Type.WRITE || l.type() == Type.WRITE)) {
        return l;
      }
    }
    return null;
  }

  /**
   * What F_GETLK reports: the first lock of another guest owner that conflicts, else one held
   * on the host through another descriptor than the guest's (if this table is mirrored), else
   * null.
   */
  public synchronized Lock conflict(HostInode file, Object owner, FileDescription via, Type type, long start, long end) {
    Lock c = conflict(file, owner, type, start, end);
    return c != null || host == null ? c : host.conflict(owner, file, via, type, start, end);
  }

  /** {@link #tryLock(HostInode, Object, int, Type, long, long, FileDescription)} with no host side. */
  public synchronized Lock tryLock(HostInode file, Object owner, int pid, Type type, long start, long end) {
    return tryLock(file, owner, pid, type, start, end, null);
  }

  /**
   * Sets a lock unless another owner's conflicts: a guest owner's in this table, else (if this
   * table is mirrored and {@code via}, the description the lock is taken through, is a host
   * file) one held on the host.
   *
   * @return null when set, else the conflicting lock (nothing changed)
   */
  public synchronized Lock tryLock(HostInode file, Object owner, int pid, Type type, long start, long end,
      FileDescription via) {
    Lock c = conflict(file, owner, type, start, end);
    if (c != null) {
      return c;
    }
    if (host != null && via != null && !host.set(owner, file, via, type, start, end)) {
      return new Lock(HOST, 0, type, start, end);
    }
    List<Lock> list = locks.computeIfAbsent(file, f -> new ArrayList<>());
    long s = start;
    long e = end;
    List<Lock> kept = new ArrayList<>();
    boolean freed = false;
    for (Lock l : list) {
      if (l.owner() != owner || !l.touches(start, end)) {
        kept.add(l);
      } else if (l.type() == type) {
        s = Math.min(s, l.start());
        e = Math.max(e, l.end());
      } else if (!l.overlaps(start, end)) {
        kept.add(l); // touching, of the other type: stays as it is
      } else {
        freed = true; // a write lock downgraded or a read lock upgraded over part of it
        splitOutside(l, start, end, kept);
      }
    }
    kept.add(new Lock(owner, pid, type, s, e));
    locks.put(file, kept);
    if (freed) {
      wake(file);
    }
    return null;
  }

  /** Removes the owner's locks over the range (F_UNLCK), splitting those that stick out. */
  public synchronized void unlock(HostInode file, Object owner, long start, long end) {
    if (host != null) {
      host.unset(owner, file, start, end);
    }
    unlockTable(file, owner, start, end);
  }

  private void unlockTable(HostInode file, Object owner, long start, long end) {
    List<Lock> list = locks.get(file);
    if (list == null) {
      return;
    }
    List<Lock> kept = new ArrayList<>();
    boolean changed = false;
    for (Lock l : list) {
      if (l.owner() == owner && l.overlaps(start, end)) {
        splitOutside(l, start, end, kept);
        changed = true;
      } else {
        kept.add(l);
      }
    }
    store(file, kept);
    if (changed) {
      wake(file);
    }
  }

  /** Removes every lock of the owner on one file (a POSIX owner closing any descriptor of it). */
  public synchronized void releaseAll(HostInode file, Object owner) {
    if (host != null) {
      host.drop(owner, file);
    }
    unlockTable(file, owner, 0, TO_EOF);
  }

  /** Removes every lock of the owner (a process exiting, a description closed). */
  public synchronized void releaseAll(Object owner) {
    waitsFor.remove(owner);
    if (host != null) {
      host.dropAll(owner);
    }
    for (HostInode file : List.copyOf(locks.keySet())) {
      unlockTable(file, owner, 0, TO_EOF);
    }
  }

  /**
   * A POSIX owner (a process) is about to close {@code d}, by close, dup2 over it or exec's
   * close-on-exec: its locks on the file go, whichever of its descriptors took them.
   */
  public void closing(Object owner, FileDescription d) {
    if (holdsAny(owner)) {
      releaseAll(HostInode.of(d), owner);
    }
  }

  /** Whether the owner holds any lock (so that closing a descriptor need not look further). */
  public synchronized boolean holdsAny(Object owner) {
    for (List<Lock> list : locks.values()) {
      for (Lock l : list) {
        if (l.owner() == owner) {
          return true;
        }
      }
    }
    return false;
  }

  /** The locks on a file, for tests and /proc/locks. */
  public synchronized List<Lock> locksOn(HostInode file) {
    return List.copyOf(locks.getOrDefault(file, List.of()));
  }

  // ---------------------------------------------------------------- waiting

  /** Runs {@code wake} whenever a range of the file is freed, until {@link #stopWaking}. */
  public synchronized void wakeOnChange(HostInode file, Runnable wake) {
    wakers.computeIfAbsent(file, f -> new LinkedHashSet<>()).add(wake);
  }

  /** Undoes {@link #wakeOnChange}. */
  public synchronized void stopWaking(HostInode file, Runnable wake) {
    Set<Runnable> set = wakers.get(file);
    if (set != null) {
      set.remove(wake);
      if (set.isEmpty()) {
        wakers.remove(file);
      }
    }
  }

  /**
   * Records that {@code waiter} is about to wait for {@code holder}, unless that would close a
   * cycle of waiters.
   *
   * @return false if {@code holder} waits, directly or through other waiters, for {@code
   *     waiter} (the caller fails with EDEADLK)
   */
  public synchronized boolean waitFor(Object waiter, Object holder) {
    Object o = holder;
    for (int i = 0; i < MAX_DEADLOCK_CHAIN && o != null; i++) {
      if (o == waiter) {
        return false;
      }
      o = waitsFor.get(o);
    }
    waitsFor.put(waiter, holder);
    return true;
  }

  /** The waiter no longer waits (it got the lock, gave up or was interrupted). */
  public synchronized void doneWaiting(Object waiter) {
    waitsFor.remove(waiter);
  }

  private void wake(HostInode file) {
    Set<Runnable> set = wakers.get(file);
    if (set != null) {
      set.forEach(Runnable::run);
    }
  }

  private void store(HostInode file, List<Lock> kept) {
    if (kept.isEmpty()) {
      locks.remove(file);
    } else {
      locks.put(file, kept);
    }
  }

  private static void splitOutside(Lock l, long start, long end, List<Lock> out) {
    if (l.start() < start) {
      out.add(new Lock(l.owner(), l.pid(), l.type(), l.start(), start - 1));
    }
    if (l.end() > end) {
      out.add(new Lock(l.owner(), l.pid(), l.type(), end + 1, l.end()));
    }
  }
}
