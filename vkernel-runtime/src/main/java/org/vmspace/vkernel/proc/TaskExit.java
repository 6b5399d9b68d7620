package org.vmspace.vkernel.proc;

import java.util.ArrayList;
import java.util.List;
import org.vmspace.vkernel.fs.FdTable;
import org.vmspace.vkernel.mem.AddressSpace;
import org.vmspace.vkernel.signal.SigAction;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * A task's end and its thread group's: the last task out releases the group's resources,
 * re-parents its children (to a subreaper or init), makes it a zombie and notifies the parent;
 * wait4/waitid reap zombies. As gVisor's {@code task_exit.go}.
 */
public final class TaskExit {
  private TaskExit() {}

  /**
   * A task's loop ended. A task that called exit(2) (or that another task's execve ended) leaves
   * its group; the last task out finishes the group's exit, with the exit(2) status if nothing
   * else ended the group. A loop that ended for no reason (an internal error) kills the group.
   * Before leaving, the task's robust futex list is walked and its CLONE_CHILD_CLEARTID word
   * cleared and woken, so that threads waiting for its locks or joining it go on.
   *
   * <p>When every guest is being killed ({@link RunEnd#ending}), none of that is done: no guest
   * thread outlives the end to wait for those words or for this task's exit, and {@link
   * RunEnd#tearDown} releases the processes' resources once every loop has ended.
   */
  static void threadExited(Task t) {
    Kernel k = t.kernel();
    ThreadGroup p = t.process;
    if (!t.exiting()) {
      p.requestExit(Signals.SIGKILL);
    }
    if (k.end.ending()) {
      return;
    }
    p.retireCpu(t);
    AddressSpace mm = p.mm;
    if (mm != null) {
      walkRobustList(t, mm);
      clearChildTid(t, mm);
    }
    boolean last;
    k.lock.lock();
    try {
      p.threads.remove(t);
      k.tasks.remove(t.tid, t);
      last = p.threads.isEmpty();
      if (last) {
        k.lastThreadLeft(p); // counted as a task until reaped, in the same critical section
      }
    } finally {
      k.lock.unlock();
    }
    if (last) {
      p.requestExit(t.exitStatus()); // no-op if the group was already ending
      finishExit(p);
    } else {
      p.signalsChanged(); // the thread's own pending signals are gone with it
      if (k.trace != null) {
        k.trace.event(t.tid, "+++ thread exited +++");
      }
    }
  }

  /** Linux's ROBUST_LIST_LIMIT: a list longer than this (or circular) is not walked further. */
  private static final int ROBUST_LIST_LIMIT = 2048;

  /**
   * Linux's exit_robust_list: each lock on the dying task's robust list (and the one it was
   * acquiring or releasing, {@code list_op_pending}) that it still owns gets FUTEX_OWNER_DIED
   * (keeping FUTEX_WAITERS), and one waiter is woken. A fault anywhere ends the walk, as Linux.
   * The store is a compare-then-store under the futex table's lock, not an atomic exchange: a
   * guest thread racing on the same word only sets FUTEX_WAITERS, and then sees the change when
   * its FUTEX_WAIT finds a different value.
   */
  static void walkRobustList(Task t, AddressSpace mm) {
    long head = t.robustList;
    t.robustList = 0;
    if (head == 0) {
      return;
    }
    try {
      long entry = mm.memory().readLong(head);
      long offset = mm.memory().readLong(head + 8);
      long pending = mm.memory().readLong(head + 16);
      for (int n = 0; (entry & ~1L) != head && n < ROBUST_LIST_LIMIT; n++) {
        long next = mm.memory().readLong(entry & ~1L);
        if (entry != pending) {
          futexDeath(t, mm, (entry & ~1L) + offset, (entry & 1) != 0, false);
        }
        entry = next;
      }
      if (pending != 0) {
        futexDeath(t, mm, (pending & ~1L) + offset, (pending & 1) != 0, true);
      }
    } catch (SyscallError e) {
      // An unreadable list ends the walk, as in Linux.
    }
  }

  /** Linux's handle_futex_death for one word. */
  private static void futexDeath(Task t, AddressSpace mm, long addr, boolean pi, boolean pendingOp) {
    Futexes futexes = t.kernel().futexes;
    int value = mm.memory().readInt(addr);
    if (pendingOp && !pi && value == 0) {
      futexes.wake(mm, addr, true, 1, -1);
      return;
    }
    if ((value & Futexes.FUTEX_TID_MASK) != t.tid) {
      return;
    }
    if (pi) {
      futexes.ownerDiedPi(mm, addr, t.tid); // the first waiter gets it, with FUTEX_OWNER_DIED
      return;
    }
    int died = (value & Futexes.FUTEX_WAITERS) | Futexes.FUTEX_OWNER_DIED;
    if (futexes.compareAndSet(mm, addr, value, died) && (value & Futexes.FUTEX_WAITERS) != 0) {
      futexes.wake(mm, addr, true, 1, -1);
    }
  }

  /**
   * What an exiting process gives back: its timers, signalfd watches, descriptors, POSIX record
   * locks, address space and System V IPC undo state; a vfork parent waiting for it goes on.
   */
  static void releaseResources(ThreadGroup p) {
    Kernel k = p.kernel();
    if (p.alarm != null) {
      p.alarm.cancel(false);
    }
    p.unwatchSignalFds();
    CpuLimit.stop(p);
    FdTable fds = p.fds;
    if (fds != null) {
      fds.release();
    }
    k.vfs.recordLocks().releaseAll(p); // POSIX locks are the process's, whatever still refers to its files
    AddressSpace mm = p.mm;
    if (mm != null) {
      mm.release();
    }
    // SEM_UNDO adjustments, and the removed segments only this process still had attached.
    k.ipc.exit(p.pid);
    TaskClone.releaseVfork(p);
  }

  /** The trace's line for a process that ended with wait status {@code status}, if tracing. */
  static void traceExit(ThreadGroup p, int status) {
    Kernel k = p.kernel();
    if (k.trace != null) {
      int sig = status & 0x7f;
      k.trace.event(p.pid, sig != 0 ? "+++ killed by " + Signals.name(sig) + " +++" : "+++ exited with " + ((status >> 8) & 0xff) + " +++");
    }
  }

  private static void finishExit(ThreadGroup p) {
    Kernel k = p.kernel();
    int status = p.exitStatus();
    releaseResources(p);
    ThreadGroup parent;
    boolean notify;
    List<ThreadGroup> orphanSignals = new ArrayList<>();
    List<ThreadGroup> adoptedZombies = new ArrayList<>();
    ThreadGroup reaper;
    k.lock.lock();
    try {
      p.zombie = true;
      p.waitStatus = status;
      reaper = subreaperOf(p);
      for (ThreadGroup c : p.children) {
        c.parent = reaper;
        if (reaper != null && !(c.zombie && autoReaps(reaper))) {
          reaper.children.add(c);
          if (c.zombie) {
            adoptedZombies.add(c);
          }
        } else if (c.zombie) {
          k.removeProcess(c.pid);
        }
        if (!c.zombie && c.pdeathSig != 0) {
          orphanSignals.add(c);
        }
      }
      p.children.clear();
      parent = p.parent;
      boolean reap = parent == null;
      if (parent != null) {
        reap = autoReaps(parent);
        if (reap) {
          parent.children.remove(p);
        }
      }
      if (reap) {
        k.removeProcess(p.pid);
      }
      notify = parent != null;
    } finally {
      k.lock.unlock();
    }
    for (ThreadGroup c : orphanSignals) {
      TaskSignals.postProcess(c, c.pdeathSig, SigInfo.user(c.pdeathSig, p.pid, p.uid));
    }
    for (ThreadGroup z : adoptedZombies) {
      notifyParent(z, reaper, z.waitStatus);
    }
    traceExit(p, status);
    if (notify) {
      notifyParent(p, parent, status);
    }
    if (p == k.main) {
      k.mainExit.complete(status);
    }
  }

  /** Whether {@code parent} has its children reaped at exit (SIGCHLD ignored, or SA_NOCLDWAIT). */
  private static boolean autoReaps(ThreadGroup parent) {
    SigAction a = parent.action(Signals.SIGCHLD);
    return a.handler() == SigAction.SIG_IGN || (a.flags() & SigAction.SA_NOCLDWAIT) != 0;
  }

  /**
   * The living ancestor nearest to {@code p} that PR_SET_CHILD_SUBREAPER made a subreaper, which
   * adopts {@code p}'s children; null for init. Called under the kernel lock.
   */
  private static ThreadGroup subreaperOf(ThreadGroup p) {
    for (ThreadGroup a = p.parent; a != null; a = a.parent) {
      if (a.childSubreaper && !a.zombie) {
        return a;
      }
    }
    return null;
  }

  /** Tells {@code parent} that its child {@code child} ended with wait status {@code status}. */
  private static void notifyParent(ThreadGroup child, ThreadGroup parent, int status) {
    int sig = status & 0x7f;
    int exitSig = child.exitSignal;
    if (exitSig > 0 && exitSig <= Signals.NSIG) {
      SigInfo info = new SigInfo(exitSig, sig != 0 ? SigInfo.CLD_KILLED : SigInfo.CLD_EXITED, child.pid, child.uid, 0,
          sig != 0 ? sig : (status >> 8) & 0xff);
      TaskSignals.postProcess(parent, exitSig, info);
    }
    child.exitNotified = true;
    for (Task pt : parent.threadsSnapshot()) {
      pt.blocker().wake(false);
    }
  }

  public static final int WNOHANG = 1;
  public static final int WUNTRACED = 2;
  public static final int WCONTINUED = 8;
  public static final int WNOWAIT = 0x01000000;
  public static final int WALL = 0x40000000;
  public static final int WCLONE = 0x80000000;

  /** A reaped (or, with WNOWAIT, seen) child: its pid and wait status. */
  public static record Reaped(int pid, int status, int uid) {}

  /**
   * wait4/waitid: waits for a child matching {@code which} ({@code > 0} that pid, {@code 0} the
   * caller's process group, {@code -1} any, {@code < -1} that group) to exit.
   *
   * @return the child, or null with WNOHANG when none has exited yet
   * @throws SyscallError ECHILD with no such child, ERESTARTSYS if a signal interrupts
   */
  public static Reaped wait(Task t, int which, int options) {
    Kernel k = t.kernel();
    ThreadGroup p = t.process;
    boolean interrupted = false;
    while (true) {
      boolean inFlight = false;
      k.lock.lock();
      try {
        boolean any = false;
        for (ThreadGroup c : p.children) {
          if (!waitMatches(p, c, which, options)) {
            continue;
          }
          any = true;
          // A zombie whose exit signal is still being posted is not waitable yet: Linux makes
          // the zombie and signals the parent in one step, so a wait never sees one without
          // the other. The poster is a few steps from done; this wait looks again at once.
          if (c.zombie && !c.exitNotified) {
            inFlight = true;
            continue;
          }
          if (c.zombie) {
            if ((options & WNOWAIT) == 0) {
              p.children.remove(c);
              k.removeProcess(c.pid);
            }
            return new Reaped(c.pid, c.waitStatus, c.uid);
          }
        }
        if (!any) {
          throw new SyscallError(LinuxErrno.ECHILD);
        }
      } finally {
        k.lock.unlock();
      }
      if (inFlight) {
        Thread.yield();
        continue;
      }
      if ((options & WNOHANG) != 0) {
        return null;
      }
      // As Linux's do_wait: a signal ends the wait only after one more look for a zombie, since
      // the signal is most often the SIGCHLD of the very child being waited for (busybox sh's
      // wait4 would otherwise see EINTR for every command, and make the call twice).
      if (interrupted) {
        throw new SyscallError(LinuxErrno.ERESTARTSYS);
      }
      interrupted = t.blocker().await(-1, (short) 0, 0, true) == Blocker.Wait.SIGNAL;
    }
  }

  private static boolean waitMatches(ThreadGroup self, ThreadGroup c, int which, int options) {
    boolean pidOk = which > 0 ? c.pid == which : which == 0 ? c.pgid == self.pgid : which == -1 || c.pgid == -which;
    if (!pidOk) {
      return false;
    }
    if ((options & WALL) != 0) {
      return true;
    }
    boolean cloneChild = c.exitSignal != Signals.SIGCHLD;
    return cloneChild == ((options & WCLONE) != 0);
  }

  /** CLONE_CHILD_CLEARTID: zero the tid word and wake a futex waiter on it (exit, exec). */
  static void clearChildTid(Task t, AddressSpace mm) {
    Kernel k = t.kernel();
    long addr = t.clearTid;
    t.clearTid = 0;
    if (addr != 0 && mm != null) {
      try {
        mm.memory().writeInt(addr, 0);
        k.futexes.wake(mm, addr, true, 1, -1); // as Linux: a shared wake
      } catch (SyscallError e) {
        // ignored, as Linux does
      }
    }
  }
}
