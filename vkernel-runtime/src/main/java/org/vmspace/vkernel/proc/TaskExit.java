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

  /** A guest thread's loop ended: the last thread out finishes its process's exit. */
  static void threadExited(Task t) {
    Kernel k = t.kernel();
    ThreadGroup p = t.process;
    if (!p.exiting()) {
      // The loop ended without an exit request (an internal error): treat as killed.
      p.requestExit(Signals.SIGKILL);
    }
    clearChildTid(t, p.mm);
    boolean last;
    k.lock.lock();
    try {
      p.threads.remove(t);
      last = p.threads.isEmpty();
    } finally {
      k.lock.unlock();
    }
    if (last) {
      finishExit(p);
    }
  }

  private static void finishExit(ThreadGroup p) {
    Kernel k = p.kernel();
    int status = p.exitStatus();
    if (p.alarm != null) {
      p.alarm.cancel(false);
    }
    FdTable fds = p.fds;
    if (fds != null) {
      fds.release();
    }
    k.vfs.recordLocks().releaseAll(p); // POSIX locks are the process's, whatever still refers to its files
    AddressSpace mm = p.mm;
    if (mm != null) {
      mm.release();
    }
    TaskClone.releaseVfork(p);
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
          k.processes.remove(c.pid);
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
        k.processes.remove(p.pid);
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
    if (k.trace != null) {
      int sig = status & 0x7f;
      k.trace.event(p.pid, sig != 0 ? "+++ killed by " + Signals.name(sig) + " +++" : "+++ exited with " + ((status >> 8) & 0xff) + " +++");
    }
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
    for (Task pt : parent.threadsSnapshot()) {
      pt.wake(false);
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
    while (true) {
      k.lock.lock();
      try {
        boolean any = false;
        for (ThreadGroup c : p.children) {
          if (!waitMatches(p, c, which, options)) {
            continue;
          }
          any = true;
          if (c.zombie) {
            if ((options & WNOWAIT) == 0) {
              p.children.remove(c);
              k.processes.remove(c.pid);
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
      if ((options & WNOHANG) != 0) {
        return null;
      }
      if (t.await(-1, (short) 0, 0, true) == Task.Wait.SIGNAL) {
        throw new SyscallError(LinuxErrno.ERESTARTSYS);
      }
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
