package org.vmspace.vkernel.proc;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.vmspace.vkernel.mem.AddressSpace;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * futex(2) wait queues, keyed by address space and address (private futexes; shared ones in
 * MAP_SHARED memory are keyed the same way, which is exact within one address space).
 */
public final class Futexes {
  private record Key(AddressSpace mm, long addr) {}

  private static final class Waiter {
    final GuestThread thread;
    final int bitset;
    Key key;
    boolean woken;

    Waiter(GuestThread thread, int bitset, Key key) {
      this.thread = thread;
      this.bitset = bitset;
      this.key = key;
    }
  }

  private final Map<Key, List<Waiter>> queues = new HashMap<>();

  /**
   * FUTEX_WAIT(_BITSET): sleeps if the word at {@code addr} still holds {@code expected}.
   *
   * @param deadline a {@link System#nanoTime()} value, or 0 for none
   * @throws SyscallError EAGAIN the word changed, ETIMEDOUT, ERESTARTSYS on a signal, EFAULT
   */
  public void await(GuestThread t, AddressSpace mm, long addr, int expected, long deadline, int bitset) {
    if ((addr & 3) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (bitset == 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    Key key = new Key(mm, addr);
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
        GuestThread.Wait r = t.await(-1, (short) 0, deadline, true);
        if (r == GuestThread.Wait.SIGNAL) {
          throw new SyscallError(LinuxErrno.ERESTARTSYS);
        }
        if (r == GuestThread.Wait.TIMEOUT) {
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
  public int wake(AddressSpace mm, long addr, int n, int bitset) {
    List<GuestThread> woken = new ArrayList<>();
    synchronized (this) {
      List<Waiter> q = queues.get(new Key(mm, addr));
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
  public int requeue(AddressSpace mm, long addr, int n, long addr2, int requeue, Integer expected) {
    List<GuestThread> woken = new ArrayList<>();
    int moved = 0;
    synchronized (this) {
      if (expected != null && mm.memory().readInt(addr) != expected) {
        throw new SyscallError(LinuxErrno.EAGAIN);
      }
      List<Waiter> q = queues.get(new Key(mm, addr));
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
            w.key = new Key(mm, addr2);
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
