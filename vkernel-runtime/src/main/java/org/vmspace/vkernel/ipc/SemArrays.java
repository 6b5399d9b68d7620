package org.vmspace.vkernel.ipc;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * System V semaphore sets (semget, semop, semtimedop, semctl) with Linux's default limits,
 * checks and errnos, and the SEM_UNDO adjustments of each process, applied by {@link #exit}.
 *
 * <p>A semop is atomic: its operations are tried in order on a copy, and applied all together
 * only if none would block. A caller that would block sleeps through its {@link Sleeper} and
 * tries again whenever the set changes (Linux performs the pending operations on the sleepers'
 * behalf instead; the outcome differs only in which of several competing sleepers goes first).
 * Thread-safe (one lock for all sets; sleeping happens outside it).
 */
public final class SemArrays {
  /** The most semaphores in a set (SEMMSL). */
  public static final int SEMMSL = 32000;
  /** The most sets (SEMMNI). */
  public static final int SEMMNI = 32000;
  /** The most semaphores in all sets (SEMMNS). */
  public static final int SEMMNS = SEMMNI * SEMMSL;
  /** The most operations in one semop (SEMOPM). */
  public static final int SEMOPM = 500;
  /** The largest semaphore value (SEMVMX), and the largest undo adjustment (SEMAEM). */
  public static final int SEMVMX = 32767;
  public static final int SEMAEM = SEMVMX;
  public static final int IPC_NOWAIT = 04000;
  public static final int SEM_UNDO = 010000;

  /** One operation of a semop ({@code struct sembuf}: sem_num, sem_op, sem_flg, all 16-bit). */
  public record Op(int num, int op, int flags) {}

  /** semid64_ds's fields, as IPC_STAT reports them. */
  public record Stat(IpcObject.Perm perm, long otime, long ctime, int nsems) {}

  /** struct seminfo: the limits (IPC_INFO) or the usage (SEM_INFO), and the highest index used. */
  public record Info(int semmap, int semmni, int semmns, int semmnu, int semmsl, int semopm, int semume, int semusz,
      int semvmx, int semaem, int highestIndex) {}

  /** A sleeper and the semaphore that blocks it: {@code zero} waits for 0, else for an increase. */
  private record Blocked(Sleeper sleeper, int num, boolean zero) {}

  private static final class Set extends IpcObject {
    final int[] values;
    final int[] pids;
    final List<Blocked> sleepers = new ArrayList<>();
    long otime;

    Set(int key, Cred creator, int mode, int nsems) {
      super(key, creator, mode);
      values = new int[nsems];
      pids = new int[nsems];
    }

    void wakeAll() {
      sleepers.forEach(b -> b.sleeper().wake());
    }
  }

  private final IpcIds<Set> ids = new IpcIds<>(SEMMNI);
  /** Each process's SEM_UNDO adjustments: pid, then set, then one adjustment per semaphore. */
  private final Map<Integer, Map<Set, int[]>> undos = new HashMap<>();
  private long semaphores;

  /**
   * semget.
   *
   * @throws SyscallError EINVAL (nsems negative, over SEMMSL, 0 for a new set, or more than an
   *     existing set has), ENOENT, EEXIST, EACCES, ENOSPC
   */
  public synchronized int get(int key, int nsems, int flags, Cred who) {
    if (nsems < 0 || nsems > SEMMSL) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    Set s = ids.get(key, flags, who, () -> {
      if (nsems == 0) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
      if (semaphores + nsems > SEMMNS) {
        throw new SyscallError(LinuxErrno.ENOSPC);
      }
      semaphores += nsems;
      return new Set(key, who, flags, nsems);
    }, existing -> {
      if (nsems > existing.values.length) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
    });
    return s.id;
  }

  /**
   * semop / semtimedop.
   *
   * @param deadline a {@link System#nanoTime()} value, or 0 for none
   * @throws SyscallError EINVAL (no operations, a bad id), E2BIG (over SEMOPM), EFBIG (a
   *     semaphore number past the set), EACCES, EIDRM (removed, also while waiting), ERANGE (a
   *     value over SEMVMX, an adjustment past SEMAEM), EAGAIN (an operation with IPC_NOWAIT
   *     would block, or the deadline passed), EINTR (a signal; never restarted)
   */
  public void semop(int id, List<Op> ops, Cred who, long deadline, Sleeper sleeper) {
    if (ops.isEmpty()) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (ops.size() > SEMOPM) {
      throw new SyscallError(LinuxErrno.E2BIG);
    }
    int max = 0;
    boolean alter = false;
    for (Op op : ops) {
      max = Math.max(max, op.num());
      alter |= op.op() != 0;
    }
    Set s;
    Blocked queued = null;
    synchronized (this) {
      s = ids.lookup(id);
    }
    try {
      while (true) {
        synchronized (this) {
          if (max >= s.values.length) {
            throw new SyscallError(LinuxErrno.EFBIG);
          }
          s.check(who, alter ? 0222 : 0444);
          if (s.removed) {
            throw new SyscallError(LinuxErrno.EIDRM);
          }
          Blocked blocker = tryOps(s, ops, who);
          if (blocker == null) {
            return;
          }
          if (queued == null || queued.num() != blocker.num() || queued.zero() != blocker.zero()) {
            if (queued != null) {
              s.sleepers.remove(queued);
            }
            queued = new Blocked(sleeper, blocker.num(), blocker.zero());
            s.sleepers.add(queued);
          }
        }
        Sleeper.Result r = sleeper.sleep(deadline);
        if (r != Sleeper.Result.WOKEN) {
          synchronized (this) {
            if (s.removed) {
              throw new SyscallError(LinuxErrno.EIDRM);
            }
          }
          throw new SyscallError(r == Sleeper.Result.TIMEOUT ? LinuxErrno.EAGAIN : LinuxErrno.EINTR);
        }
      }
    } finally {
      if (queued != null) {
        synchronized (this) {
          s.sleepers.remove(queued);
        }
      }
    }
  }

  /**
   * Linux's perform_atomic_semop: the operations in order on a copy; applies them all and
   * returns null, or returns what blocks (sleeper null) and changes nothing.
   */
  private Blocked tryOps(Set s, List<Op> ops, Cred who) {
    int[] values = s.values.clone();
    int[] adj = null;
    int[] oldAdj = undos.getOrDefault(who.pid(), Map.of()).get(s);
    for (Op op : ops) {
      int v = values[op.num()] + op.op();
      if ((op.op() == 0 && values[op.num()] != 0) || v < 0) {
        if ((op.flags() & IPC_NOWAIT) != 0) {
          throw new SyscallError(LinuxErrno.EAGAIN);
        }
        return new Blocked(null, op.num(), op.op() == 0);
      }
      if (v > SEMVMX) {
        throw new SyscallError(LinuxErrno.ERANGE);
      }
      if ((op.flags() & SEM_UNDO) != 0) {
        if (adj == null) {
          adj = oldAdj != null ? oldAdj.clone() : new int[s.values.length];
        }
        int a = adj[op.num()] - op.op();
        if (a < -SEMAEM - 1 || a > SEMAEM) {
          throw new SyscallError(LinuxErrno.ERANGE);
        }
        adj[op.num()] = a;
      }
      values[op.num()] = v;
    }
    System.arraycopy(values, 0, s.values, 0, values.length);
    for (Op op : ops) {
      s.pids[op.num()] = who.pid();
    }
    if (adj != null) {
      undos.computeIfAbsent(who.pid(), p -> new IdentityHashMap<>()).put(s, adj);
    }
    s.otime = IpcNamespace.now();
    s.wakeAll();
    return null;
  }

  /**
   * A process ends: its SEM_UNDO adjustments are added to the sets that still exist (each value
   * kept within 0..SEMVMX, as Linux clamps it), their sleepers woken.
   */
  public synchronized void exit(int pid) {
    Map<Set, int[]> mine = undos.remove(pid);
    if (mine == null) {
      return;
    }
    for (Map.Entry<Set, int[]> e : mine.entrySet()) {
      Set s = e.getKey();
      if (s.removed) {
        continue;
      }
      int[] adj = e.getValue();
      for (int i = 0; i < adj.length; i++) {
        if (adj[i] != 0) {
          s.values[i] = Math.clamp((long) s.values[i] + adj[i], 0, SEMVMX);
          s.pids[i] = pid;
        }
      }
      s.wakeAll();
    }
  }

  /** The process's adjustment of semaphore {@code num} in set {@code id} (0 if none), for tests. */
  synchronized int adjustment(int pid, int id, int num) {
    Set s = ids.lookup(id);
    int[] adj = undos.getOrDefault(pid, Map.of()).get(s);
    return adj == null ? 0 : adj[num];
  }

  private Set readable(int id, Cred who) {
    Set s = ids.lookup(id);
    s.check(who, 0444);
    return s;
  }

  private static void checkNum(Set s, int num) {
    if (num < 0 || num >= s.values.length) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
  }

  /** GETVAL. @throws SyscallError EINVAL, EACCES */
  public synchronized int value(int id, int num, Cred who) {
    Set s = readable(id, who);
    checkNum(s, num);
    return s.values[num];
  }

  /** GETPID: the last process to operate on the semaphore. */
  public synchronized int pid(int id, int num, Cred who) {
    Set s = readable(id, who);
    checkNum(s, num);
    return s.pids[num];
  }

  /**
   * GETNCNT ({@code zero} false: sleepers waiting for an increase) or GETZCNT (true: for
   * zero); a sleeper counts for the operation that blocks it, as in Linux.
   */
  public synchronized int waiting(int id, int num, boolean zero, Cred who) {
    Set s = readable(id, who);
    checkNum(s, num);
    int n = 0;
    for (Blocked b : s.sleepers) {
      if (b.num() == num && b.zero() == zero) {
        n++;
      }
    }
    return n;
  }

  /** GETALL. */
  public synchronized int[] values(int id, Cred who) {
    return readable(id, who).values.clone();
  }

  /**
   * SETVAL: sets one value and clears every process's adjustment of it.
   *
   * @throws SyscallError ERANGE (checked first, as in Linux), EINVAL, EACCES
   */
  public synchronized void setValue(int id, int num, int value, Cred who) {
    if (value < 0 || value > SEMVMX) {
      throw new SyscallError(LinuxErrno.ERANGE);
    }
    Set s = ids.lookup(id);
    s.check(who, 0222);
    checkNum(s, num);
    for (Map<Set, int[]> m : undos.values()) {
      int[] adj = m.get(s);
      if (adj != null) {
        adj[num] = 0;
      }
    }
    s.values[num] = value;
    s.pids[num] = who.pid();
    s.ctime = IpcNamespace.now();
    s.wakeAll();
  }

  /**
   * SETALL: sets every value (the array holds one per semaphore) and clears all adjustments.
   *
   * @throws SyscallError EINVAL, EACCES, ERANGE
   */
  public synchronized void setValues(int id, int[] values, Cred who) {
    Set s = ids.lookup(id);
    s.check(who, 0222);
    for (int v : values) {
      if (v < 0 || v > SEMVMX) {
        throw new SyscallError(LinuxErrno.ERANGE);
      }
    }
    for (Map<Set, int[]> m : undos.values()) {
      int[] adj = m.get(s);
      if (adj != null) {
        java.util.Arrays.fill(adj, 0);
      }
    }
    System.arraycopy(values, 0, s.values, 0, s.values.length);
    java.util.Arrays.fill(s.pids, who.pid());
    s.ctime = IpcNamespace.now();
    s.wakeAll();
  }

  /** The number of semaphores in set {@code id} (for GETALL and SETALL's buffers). */
  public synchronized int count(int id) {
    return ids.lookup(id).values.length;
  }

  /**
   * IPC_STAT (by id) or SEM_STAT / SEM_STAT_ANY (by index; {@code any} skips the permission).
   *
   * @throws SyscallError EINVAL, EACCES
   */
  public synchronized Stat stat(int idOrIndex, boolean index, boolean any, Cred who) {
    Set s = index ? ids.atIndex(idOrIndex) : ids.lookup(idOrIndex);
    if (s == null) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (!any) {
      s.check(who, 0444);
    }
    return new Stat(s.perm(), s.otime, s.ctime, s.values.length);
  }

  /** The id of the set at an index (SEM_STAT's result). */
  public synchronized int idAt(int index) {
    Set s = ids.atIndex(index);
    if (s == null) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return s.id;
  }

  /** IPC_SET: owner, group and mode bits. @throws SyscallError EINVAL, EPERM */
  public synchronized void set(int id, Cred who, int uid, int gid, int mode) {
    Set s = ids.lookup(id);
    s.checkOwner(who);
    s.set(new IpcObject.Perm(s.key, uid, gid, s.cuid, s.cgid, mode, s.seq));
  }

  /**
   * IPC_RMID: the set goes at once with the adjustments of it; its sleepers fail with EIDRM.
   *
   * @throws SyscallError EINVAL, EPERM
   */
  public synchronized void remove(int id, Cred who) {
    Set s = ids.lookup(id);
    s.checkOwner(who);
    ids.remove(s);
    semaphores -= s.values.length;
    for (Map<Set, int[]> m : undos.values()) {
      m.remove(s);
    }
    undos.values().removeIf(Map::isEmpty);
    s.wakeAll();
  }

  /** IPC_INFO ({@code usage} false: the limits) or SEM_INFO (true: sets and semaphores in use). */
  public synchronized Info info(boolean usage) {
    int highest = Math.max(ids.highestIndex(), 0);
    return new Info(SEMMNS, SEMMNI, SEMMNS, SEMMNS, SEMMSL, SEMOPM, SEMOPM, usage ? ids.count() : 20, SEMVMX,
        usage ? (int) semaphores : SEMAEM, highest);
  }
}
