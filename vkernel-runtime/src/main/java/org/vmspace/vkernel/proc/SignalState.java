package org.vmspace.vkernel.proc;

import org.vmspace.vkernel.signal.SigAction;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.Signals;

/**
 * One task's signal sets: the blocked mask (and the one rt_sigsuspend saved), the
 * thread-directed pending signals with their siginfo, and the set rt_sigtimedwait waits for.
 * As the mask and pending half of gVisor's {@code task_signals.go}; delivering them on the way
 * back to the guest is {@link SignalDelivery}'s.
 *
 * <p>Guarantees: every read and write of the blocked, saved and pending sets holds the thread
 * group's monitor, so other tasks (kill, tgkill, a process-directed signal choosing a thread) see
 * them consistently (the rt_sigtimedwait set is a volatile, read without it);
 * SIGKILL and SIGSTOP are never blocked; a change to what is pending is followed by {@link
 * ThreadGroup#signalsChanged()} outside the monitor.
 */
public final class SignalState {
  private final Task task;
  private final ThreadGroup process;

  // Guarded by the process's monitor.
  private long mask;
  private long pending;
  private final SigInfo[] pendingInfo = new SigInfo[Signals.NSIG + 1];
  private long savedMask;
  private boolean hasSavedMask;
  private volatile long waitingFor;
  /** The signalfds the task's current poll or select evaluates for it (empty outside one). */
  private volatile SignalFd[] polling = NO_SIGNAL_FDS;
  private static final SignalFd[] NO_SIGNAL_FDS = {};

  SignalState(Task task, ThreadGroup process) {
    this.task = task;
    this.process = process;
  }

  public long mask() {
    synchronized (process) {
      return mask;
    }
  }

  /** Sets the blocked set (SIGKILL and SIGSTOP cannot be blocked). */
  public void mask(long newMask) {
    synchronized (process) {
      mask = newMask & ~Signals.UNBLOCKABLE;
    }
  }

  /**
   * rt_sigsuspend: the mask to restore after the handler the wait ends in (or at once if none
   * runs).
   */
  public void suspendMask(long temporary) {
    synchronized (process) {
      savedMask = mask;
      hasSavedMask = true;
      mask = temporary & ~Signals.UNBLOCKABLE;
    }
  }

  /** The mask a handler's frame saves: rt_sigsuspend's if one is saved (which it consumes). */
  long takeSavedMask() {
    synchronized (process) {
      long saved = hasSavedMask ? savedMask : mask;
      hasSavedMask = false;
      return saved;
    }
  }

  /** No handler ran after rt_sigsuspend: its saved mask is the mask again. */
  void restoreSavedMask() {
    synchronized (process) {
      if (hasSavedMask) {
        mask = savedMask;
        hasSavedMask = false;
      }
    }
  }

  /**
   * The signals pending for this thread as signalfd's poll sees them: its own and its process's,
   * read under one lock so that a signal moving between the two is not missed.
   */
  public long pendingForThread() {
    synchronized (process) {
      return pending | process.pending();
    }
  }

  /** The thread-directed pending signals. */
  public long pendingOwn() {
    synchronized (process) {
      return pending;
    }
  }

  void discardPending(int sig) {
    synchronized (process) {
      pending &= ~Signals.bit(sig);
      pendingInfo[sig] = null;
    }
  }

  /** tgkill: posts a signal to this thread. */
  public void post(int sig, SigInfo info) {
    if (sig == Signals.SIGKILL) {
      process.requestExit(Signals.SIGKILL);
      return;
    }
    synchronized (process) {
      if (process.action(sig).ignores(sig) && (mask & Signals.bit(sig)) == 0) {
        return;
      }
      if ((pending & Signals.bit(sig)) == 0) {
        pendingInfo[sig] = info;
      }
      pending |= Signals.bit(sig);
    }
    process.signalsChanged();
    task.blocker().wake(true);
  }

  /** A synchronous signal: if blocked or ignored it is unblocked and reset to the default. */
  public void forceSignal(int sig, SigInfo info) {
    SigAction a = process.action(sig);
    synchronized (process) {
      if ((mask & Signals.bit(sig)) != 0 || a.handler() == SigAction.SIG_IGN) {
        mask &= ~Signals.bit(sig);
        a = null;
      }
      pending |= Signals.bit(sig);
      pendingInfo[sig] = info;
    }
    if (a == null) {
      process.action(sig, SigAction.DEFAULT);
    }
    process.signalsChanged();
  }

  /**
   * Takes a pending signal in {@code set} for rt_sigtimedwait; its number or 0.
   */
  public int takeSignal(long set, SigInfo[] info) {
    int sig;
    synchronized (process) {
      sig = take(set, info);
    }
    if (sig != 0) {
      process.signalsChanged();
    }
    return sig;
  }

  /** Takes a pending signal that is not blocked (or cannot be), for delivery; its number or 0. */
  int takeDeliverable(SigInfo[] info) {
    synchronized (process) {
      return take(~mask | Signals.UNBLOCKABLE, info);
    }
  }

  /**
   * Takes the lowest pending signal in {@code set}, thread-directed ones first, with its
   * siginfo in {@code info[0]}; its number or 0. The caller holds the process's monitor.
   */
  private int take(long set, SigInfo[] info) {
    long ready = pending & set;
    if (ready == 0) {
      return process.takePending(set, info);
    }
    int sig = Long.numberOfTrailingZeros(ready) + 1;
    pending &= ~Signals.bit(sig);
    info[0] = pendingInfo[sig] != null ? pendingInfo[sig] : SigInfo.user(sig, 0, 0);
    pendingInfo[sig] = null;
    return sig;
  }

  /** Whether a blocking call should give up: a signal it can take is pending, or the process exits. */
  public boolean signalPending() {
    synchronized (process) {
      return task.exiting() || ((pending | process.pending()) & ~mask) != 0;
    }
  }

  /** The set of signals rt_sigtimedwait waits for (woken even when they are blocked). */
  public void waitingFor(long set) {
    waitingFor = set;
  }

  long waitingFor() {
    return waitingFor;
  }

  /** See {@link SignalFd.Polling}: the signalfds the current poll evaluates, or none. */
  void polling(SignalFd[] fds) {
    polling = fds == null ? NO_SIGNAL_FDS : fds;
  }

  /** Whether the task's current poll or select evaluates a signalfd whose mask has {@code sig}. */
  boolean pollsFor(int sig) {
    for (SignalFd s : polling) {
      if ((s.mask() & Signals.bit(sig)) != 0) {
        return true;
      }
    }
    return false;
  }
}
