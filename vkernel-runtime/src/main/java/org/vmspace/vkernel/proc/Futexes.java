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
    Key key;
    boolean woken;

    Waiter(Task thread, int bitset, Key key) {
      this.thread = thread;
      this.bitset = bitset;
      this.key = key;
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
    try {
      while (true) {
        synchronized (this) {
          if (w.woken) {
            return;
          }
        }
        Task.Wait r = t.await(-1, (short) 0, deadline, true);
        if (r == Task.Wait.SIGNAL) {
          throw new SyscallError(LinuxErrno.ERESTARTSYS);
        }
        if (r == Task.Wait.TIMEOUT) {
          throw new SyscallError(LinuxErrno.ETIMEDOUT);
        }
      }
    } finally {
      synchronized (this) {
        List<Waiter> q = queues.get(w.key);
        if (q != null) {
          q.remove(w);
          if (q.isEmpty()) {
            queues.remove(w.key);
          }
        }
      }
    }
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
          if ((w.bitset & bitset) != 0 && !w.woken) {
            w.woken = true;
            woken.add(w.thread);
          }
        }
      }
    }
    woken.forEach(w -> w.wake(false));
    return woken.size();
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
          if (w.woken) {
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
    woken.forEach(w -> w.wake(false));
    return woken.size() + moved;
  }
}
