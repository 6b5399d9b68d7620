package org.vmspace.vkernel.proc;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import org.vmspace.api.Backing;
import org.vmspace.vkernel.mem.AddressSpace;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * futex(2) wait queues, keyed as Linux keys them: a private futex (FUTEX_PRIVATE_FLAG), or one
 * in private memory, by address space and address; a shared futex in MAP_SHARED memory by what
 * the memory is and the offset in it (the host file's device and inode, the memory object, or
 * the shared anonymous mapping), so that processes sharing the memory (through fork, or by
 * mapping the same file, as POSIX named semaphores in /dev/shm do) wait and wake on the same
 * word.
 */
public final class Futexes {
  /**
   * Where a futex word is: {@code space} an AddressSpace, a {@link FileId}, a Backing or a shared
   * anonymous mapping's identity.
   */
  private record Key(Object space, long addr) {}

  /** A host file, as the host names it. */
  private record FileId(long dev, long ino) {}

  /** The host files behind shared file mappings; weak, as the mappings hold the files. */
  private final Map<Backing, FileId> fileIds = new WeakHashMap<>();

  private static final class Waiter {
    final Task thread;
    final int bitset;
    /** A FUTEX_LOCK_PI waiter: only an unlock (a hand-over) wakes it. */
    final boolean pi;
    Key key;
    boolean woken;
    /** The lock was handed to this waiter (the word holds its tid). */
    boolean acquired;

    Waiter(Task thread, int bitset, Key key) {
      this(thread, bitset, key, false);
    }

    Waiter(Task thread, int bitset, Key key, boolean pi) {
      this.thread = thread;
      this.bitset = bitset;
      this.key = key;
      this.pi = pi;
    }
  }

  private final Map<Key, List<Waiter>> queues = new HashMap<>();

  /** Records that {@code file}, mapped shared, is the host file with this device and inode. */
  public synchronized void identify(Backing file, long dev, long ino) {
    fileIds.put(file, new FileId(dev, ino));
  }

  /** The key of the word at {@code addr}; {@code shared}: the operation lacks FUTEX_PRIVATE_FLAG. */
  private Key keyOf(AddressSpace mm, long addr, boolean shared) {
    if (shared) {
      AddressSpace.Region r = mm.regionAt(addr);
      if (r != null && r.shared() && r.sharedAnonymous() != null) {
        return new Key(r.sharedAnonymous(), r.offset() + (addr - r.start()));
      }
      if (r != null && r.shared() && r.backing() != null) {
        long offset = r.offset() + (addr - r.start());
        synchronized (this) {
          FileId file = fileIds.get(r.backing());
          return new Key(file != null ? file : r.backing(), offset);
        }
      }
    }
    return new Key(mm, addr);
  }

  /**
   * FUTEX_WAIT(_BITSET): sleeps if the word at {@code addr} still holds {@code expected}.
   *
   * @param deadline a {@link System#nanoTime()} value, or 0 for none
   * @throws SyscallError EAGAIN the word changed, ETIMEDOUT, ERESTARTSYS on a signal, EFAULT
   */
  public void await(Task t, AddressSpace mm, long addr, boolean shared, int expected, long deadline, int bitset) {
    if ((addr & 3) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (bitset == 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    Key key = keyOf(mm, addr, shared);
    Waiter w = new Waiter(t, bitset, key);
    synchronized (this) {
      if (mm.memory().readInt(addr) != expected) {
        throw new SyscallError(LinuxErrno.EAGAIN);
      }
      queues.computeIfAbsent(key, k -> new ArrayList<>()).add(w);
    }
    sleepUntilWoken(t, w, deadline);
  }

  /**
   * Sleeps until {@code w} (queued) is woken, and leaves the queue.
   *
   * @throws SyscallError ERESTARTSYS on a signal, ETIMEDOUT at the deadline
   */
  private void sleepUntilWoken(Task t, Waiter w, long deadline) {
    try {
      while (true) {
        synchronized (this) {
          if (w.woken) {
            return;
          }
        }
        Blocker.Wait r = t.blocker().await(-1, (short) 0, deadline, true);
        if (r == Blocker.Wait.SIGNAL || r == Blocker.Wait.TIMEOUT) {
          // A wake that raced with the signal or the timeout was counted by the waker: it wins,
          // as in Linux, or it would be lost. Leaving the queue in the same step as the check
          // keeps a later wake from picking this waiter.
          synchronized (this) {
            if (w.woken) {
              return;
            }
            dequeue(w);
          }
          throw new SyscallError(r == Blocker.Wait.SIGNAL ? LinuxErrno.ERESTARTSYS : LinuxErrno.ETIMEDOUT);
        }
      }
    } finally {
      synchronized (this) {
        dequeue(w);
      }
    }
  }

  private void dequeue(Waiter w) {
    List<Waiter> q = queues.get(w.key);
    if (q != null) {
      q.remove(w);
      if (q.isEmpty()) {
        queues.remove(w.key);
      }
    }
  }

  /**
   * Stores {@code value} at {@code addr} if it still holds {@code expected}, under this table's
   * lock (so no FUTEX_WAIT's check interleaves); whether it stored.
   */
  public synchronized boolean compareAndSet(AddressSpace mm, long addr, int expected, int value) {
    if (mm.memory().readInt(addr) != expected) {
      return false;
    }
    mm.memory().writeInt(addr, value);
    return true;
  }

  /** FUTEX_WAKE(_BITSET): wakes up to {@code n} waiters; how many it woke. */
  public int wake(AddressSpace mm, long addr, boolean shared, int n, int bitset) {
    List<Task> woken = new ArrayList<>();
    Key key = keyOf(mm, addr, shared);
    synchronized (this) {
      List<Waiter> q = queues.get(key);
      if (q != null) {
        for (Iterator<Waiter> it = q.iterator(); it.hasNext() && woken.size() < n; ) {
          Waiter w = it.next();
          if ((w.bitset & bitset) != 0 && !w.woken && !w.pi) {
            w.woken = true;
            woken.add(w.thread);
          }
        }
      }
    }
    woken.forEach(w -> w.blocker().wake(false));
    return woken.size();
  }

  /**
   * FUTEX_WAKE_OP: changes the word at {@code addr2} by the operation {@code encoded} names,
   * wakes up to {@code n} waiters on {@code addr}, and, if the old value at {@code addr2} passes
   * the comparison {@code encoded} names, up to {@code n2} waiters on {@code addr2}.
   *
   * <p>The read-modify-write is made under this table's lock, not as one atomic instruction in
   * guest memory: a guest thread changing the same word with its own atomic instruction at that
   * very moment can lose its change. glibc and musl do not use WAKE_OP on their hot paths.
   *
   * @return the number of waiters woken on both words
   * @throws SyscallError ENOSYS for an unknown operation or comparison, EFAULT, EINVAL
   */
  public int wakeOp(AddressSpace mm, long addr, long addr2, boolean shared, int n, int n2, int encoded) {
    if ((addr2 & 3) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    int op = (encoded >>> 28) & 7;
    int cmp = (encoded >>> 24) & 15;
    int oparg = (encoded << 8) >> 20;
    int cmparg = (encoded << 20) >> 20;
    if ((encoded & 0x80000000) != 0) { // FUTEX_OP_OPARG_SHIFT
      oparg = 1 << (oparg & 31);
    }
    if (op > 4 || cmp > 5) {
      throw new SyscallError(LinuxErrno.ENOSYS, "futex wake-op " + op + " cmp " + cmp);
    }
    int old;
    synchronized (this) {
      old = mm.memory().readInt(addr2);
      int updated = switch (op) {
        case 0 -> oparg;
        case 1 -> old + oparg;
        case 2 -> old | oparg;
        case 3 -> old & ~oparg;
        default -> old ^ oparg;
      };
      mm.memory().writeInt(addr2, updated);
    }
    int woken = wake(mm, addr, shared, n, -1);
    boolean pass = switch (cmp) {
      case 0 -> old == cmparg;
      case 1 -> old != cmparg;
      case 2 -> old < cmparg;
      case 3 -> old <= cmparg;
      case 4 -> old > cmparg;
      default -> old >= cmparg;
    };
    if (pass) {
      woken += wake(mm, addr2, shared, n2, -1);
    }
    return woken;
  }

  static final int FUTEX_WAITERS = 0x80000000;
  static final int FUTEX_OWNER_DIED = 0x40000000;
  static final int FUTEX_TID_MASK = 0x3fffffff;

  /**
   * FUTEX_LOCK_PI / FUTEX_TRYLOCK_PI: takes the lock word at {@code addr} for {@code t} (stores
   * its tid, keeping FUTEX_OWNER_DIED) if it is free; else sets FUTEX_WAITERS and sleeps until an
   * unlock hands the lock over. Priorities are not boosted (guest threads have no priorities
   * here); the hand-over order is first come, first served.
   *
   * @throws SyscallError EDEADLK the caller holds it, EAGAIN (trylock) someone else does, ESRCH
   *     the owner's tid is no live thread, ETIMEDOUT, ERESTARTSYS on a signal, EFAULT, EINVAL
   */
  public void lockPi(Task t, AddressSpace mm, long addr, long deadline, boolean trylock) {
    if ((addr & 3) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    Key key = keyOf(mm, addr, true);
    while (true) {
      Waiter w;
      synchronized (this) {
        int v = mm.memory().readInt(addr);
        int owner = v & FUTEX_TID_MASK;
        if (owner == 0) {
          List<Waiter> q = queues.get(key);
          int waiters = q != null && q.stream().anyMatch(x -> x.pi) ? FUTEX_WAITERS : 0;
          mm.memory().writeInt(addr, t.tid | (v & FUTEX_OWNER_DIED) | waiters);
          return;
        }
        if (owner == t.tid) {
          throw new SyscallError(LinuxErrno.EDEADLK);
        }
        if (trylock) {
          throw new SyscallError(LinuxErrno.EAGAIN);
        }
        Task holder = t.kernel().task(owner);
        if (holder == null) {
          throw new SyscallError(LinuxErrno.ESRCH, "futex owner " + owner);
        }
        mm.memory().writeInt(addr, v | FUTEX_WAITERS);
        w = new Waiter(t, -1, key, true);
        queues.computeIfAbsent(key, k -> new ArrayList<>()).add(w);
      }
      sleepUntilWoken(t, w, deadline);
      synchronized (this) {
        if (w.acquired) {
          return;
        }
      }
      // Woken without the lock (not done today: every hand-over gives it): try again.
    }
  }

  /**
   * FUTEX_UNLOCK_PI: the caller owns the word; the lock goes to the first waiter (its tid, and
   * FUTEX_WAITERS if more wait) or becomes 0.
   *
   * @throws SyscallError EPERM the caller does not own it, EFAULT, EINVAL
   */
  public void unlockPi(Task t, AddressSpace mm, long addr) {
    if ((addr & 3) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    Task next;
    synchronized (this) {
      int v = mm.memory().readInt(addr);
      if ((v & FUTEX_TID_MASK) != t.tid) {
        throw new SyscallError(LinuxErrno.EPERM);
      }
      next = handOver(mm, addr, 0);
    }
    if (next != null) {
      next.blocker().wake(false);
    }
  }

  /**
   * Gives the PI lock at {@code addr} to its first waiter, or frees it; {@code extra} is ORed in
   * (FUTEX_OWNER_DIED when the owner died). Returns the waiter to wake. Under this lock.
   */
  private Task handOver(AddressSpace mm, long addr, int extra) {
    Key key = keyOf(mm, addr, true);
    List<Waiter> q = queues.get(key);
    Waiter first = null;
    boolean more = false;
    if (q != null) {
      for (Waiter w : q) {
        if (w.pi && !w.woken) {
          if (first == null) {
            first = w;
          } else {
            more = true;
            break;
          }
        }
      }
    }
    if (first == null) {
      mm.memory().writeInt(addr, extra);
      return null;
    }
    mm.memory().writeInt(addr, first.thread.tid | extra | (more ? FUTEX_WAITERS : 0));
    first.woken = true;
    first.acquired = true;
    return first.thread;
  }

  /**
   * A robust PI lock whose owner died: handed to its first waiter with FUTEX_OWNER_DIED (as
   * Linux does), if the word still names the dead owner. Whether it was.
   */
  boolean ownerDiedPi(AddressSpace mm, long addr, int deadTid) {
    Task next;
    synchronized (this) {
      int v = mm.memory().readInt(addr);
      if ((v & FUTEX_TID_MASK) != deadTid) {
        return false;
      }
      next = handOver(mm, addr, FUTEX_OWNER_DIED);
    }
    if (next != null) {
      next.blocker().wake(false);
    }
    return true;
  }

  /**
   * FUTEX_CMP_REQUEUE / FUTEX_REQUEUE: wakes {@code n} waiters on {@code addr} and moves up to
   * {@code requeue} others to {@code addr2}.
   */
  public int requeue(AddressSpace mm, long addr, boolean shared, int n, long addr2, int requeue, Integer expected) {
    List<Task> woken = new ArrayList<>();
    int moved = 0;
    Key key = keyOf(mm, addr, shared);
    Key key2 = keyOf(mm, addr2, shared);
    synchronized (this) {
      if (expected != null && mm.memory().readInt(addr) != expected) {
        throw new SyscallError(LinuxErrno.EAGAIN);
      }
      List<Waiter> q = queues.get(key);
      if (q != null) {
        for (Iterator<Waiter> it = q.iterator(); it.hasNext(); ) {
          Waiter w = it.next();
          if (w.woken || w.pi) {
            continue;
          }
          if (woken.size() < n) {
            w.woken = true;
            woken.add(w.thread);
          } else if (moved < requeue) {
            it.remove();
            w.key = key2;
            queues.computeIfAbsent(w.key, k -> new ArrayList<>()).add(w);
            moved++;
          }
        }
      }
    }
    woken.forEach(w -> w.blocker().wake(false));
    return woken.size() + moved;
  }
}
