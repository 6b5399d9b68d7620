package org.vmspace.vkernel.proc;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * Signals sent between tasks and from outside: kill, tgkill, process-directed signals (pending
 * on the thread group until a task that does not block them takes them), the foreground group's
 * Ctrl-C, and the ITIMER_REAL alarm. Delivery on the way back to the guest is {@link Task}'s.
 * As gVisor's {@code task_signals.go}.
 */
public final class TaskSignals {
  private TaskSignals() {}

  /**
   * Posts a process-directed signal: it stays pending until a thread that does not block it
   * takes it; that thread is woken (and its guest interrupted) now.
   */
  public static void postProcess(ThreadGroup p, int sig, SigInfo info) {
    if (sig == Signals.SIGKILL) {
      p.requestExit(Signals.SIGKILL);
      return;
    }
    if (!p.addPending(sig, info)) {
      return;
    }
    p.signalsChanged();
    List<Task> ts = p.threadsSnapshot();
    // A process-directed signal makes a signalfd readable for every thread of the process (as
    // Linux's signalfd_notify wakes the whole process's signalfd pollers): each thread polling
    // one whose mask has it re-evaluates its poll, even though it blocks the signal.
    for (Task t : ts) {
      if (t.signals().pollsFor(sig)) {
        t.blocker().wake(false);
      }
    }
    for (Task t : ts) {
      if ((t.signals().mask() & Signals.bit(sig)) == 0 || (t.signals().waitingFor() & Signals.bit(sig)) != 0) {
        t.blocker().wake(true);
        return;
      }
    }
  }

  /**
   * kill(2).
   *
   * @throws SyscallError EINVAL bad signal, ESRCH no such process or group
   */
  public static void kill(Task t, int which, int sig) {
    Kernel k = t.kernel();
    if (sig < 0 || sig > Signals.NSIG) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    ThreadGroup self = t.process;
    List<ThreadGroup> targets = new ArrayList<>();
    k.lock.lock();
    try {
      for (ThreadGroup p : k.processes.values()) {
        boolean match;
        if (which > 0) {
          // A thread's id names its process too, as in Linux.
          Task named = k.tasks.get(which);
          match = p.pid == which || named != null && named.process == p;
        } else if (which == 0) {
          match = p.pgid == self.pgid;
        } else if (which == -1) {
          match = p != self;
        } else {
          match = p.pgid == -which;
        }
        if (match) {
          targets.add(p);
        }
      }
    } finally {
      k.lock.unlock();
    }
    if (targets.isEmpty()) {
      throw new SyscallError(LinuxErrno.ESRCH);
    }
    if (sig == 0) {
      return;
    }
    for (ThreadGroup p : targets) {
      if (!p.zombie) {
        postProcess(p, sig, SigInfo.user(sig, self.pid, self.uid));
      }
    }
  }

  /**
   * Sends {@code sig} to the terminal's foreground process group (the first process's group
   * unless a shell changed it), as a terminal does for Ctrl-C; from outside the guests.
   */
  static void signalForeground(Kernel k, int sig) {
    List<ThreadGroup> targets = new ArrayList<>();
    k.lock.lock();
    try {
      for (ThreadGroup p : k.processes.values()) {
        if (p.pgid == k.foregroundPgrp && !p.zombie) {
          targets.add(p);
        }
      }
    } finally {
      k.lock.unlock();
    }
    for (ThreadGroup p : targets) {
      postProcess(p, sig, new SigInfo(sig, SigInfo.SI_KERNEL, 0, 0, 0, 0));
    }
  }

  /** tkill/tgkill: to one thread ({@code tgid} -1 for tkill). */
  public static void tgkill(Task t, int tgid, int tid, int sig) {
    Kernel k = t.kernel();
    if (sig < 0 || sig > Signals.NSIG || tid <= 0 || (tgid <= 0 && tgid != -1)) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    Task target = k.task(tid);
    if (target == null || target.process.zombie || (tgid != -1 && target.process.pid != tgid)) {
      throw new SyscallError(LinuxErrno.ESRCH);
    }
    if (sig != 0) {
      target.signals().post(sig, new SigInfo(sig, SigInfo.SI_TKILL, t.process.pid, t.process.uid, 0, 0));
    }
  }

  static void traceSignal(Task t, SigInfo info) {
    Kernel k = t.kernel();
    if (k.trace != null) {
      k.trace.signal(t.tid, info);
    }
  }

  /** setitimer(ITIMER_REAL)/alarm: SIGALRM after {@code delayNanos}, then every {@code intervalNanos}. */
  public static long[] setAlarm(ThreadGroup p, long delayNanos, long intervalNanos) {
    Kernel k = p.kernel();
    synchronized (p) {
      long[] old = alarmLeft(p);
      if (p.alarm != null) {
        p.alarm.cancel(false);
        p.alarm = null;
      }
      if (delayNanos > 0) {
        p.alarmDeadline = System.nanoTime() + delayNanos;
        p.alarmInterval = intervalNanos;
        p.alarm = k.timers.schedule(() -> fireAlarm(p), delayNanos, TimeUnit.NANOSECONDS);
      }
      return old;
    }
  }

  private static void fireAlarm(ThreadGroup p) {
    Kernel k = p.kernel();
    synchronized (p) {
      if (p.alarmInterval > 0) {
        p.alarmDeadline = System.nanoTime() + p.alarmInterval;
        p.alarm = k.timers.schedule(() -> fireAlarm(p), p.alarmInterval, TimeUnit.NANOSECONDS);
      } else {
        p.alarm = null;
      }
    }
    postProcess(p, Signals.SIGALRM, new SigInfo(Signals.SIGALRM, SigInfo.SI_KERNEL, 0, 0, 0, 0));
  }

  /** The time left on the ITIMER_REAL timer and its interval, in nanoseconds. */
  public static long[] alarmLeft(ThreadGroup p) {
    synchronized (p) {
      if (p.alarm == null) {
        return new long[] {0, 0};
      }
      return new long[] {Math.max(1, p.alarmDeadline - System.nanoTime()), p.alarmInterval};
    }
  }

}
