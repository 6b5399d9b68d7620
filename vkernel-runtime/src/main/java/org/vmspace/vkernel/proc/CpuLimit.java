package org.vmspace.vkernel.proc;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.Signals;

/**
 * RLIMIT_CPU as Linux's check_process_timers enforces it: when the process's CPU time reaches
 * the soft limit it gets SIGXCPU, and the soft limit moves up a second (so SIGXCPU comes again
 * each further second) while it is below the hard limit; at the hard limit, SIGKILL.
 *
 * <p>The CPU time is {@link ThreadGroup#cpuTimes}, as getrusage, times and
 * CLOCK_PROCESS_CPUTIME_ID measure it: the host's count for the Java threads that run the
 * process's tasks since each task started on its thread (guest code runs inside their KVM_RUN
 * calls, so it is counted too), exited tasks' included. It is sampled every {@value #PERIOD_MS}
 * ms, and only while a limit is set, so the signal comes up to that much late; a signal posted
 * to a task spinning in guest code interrupts its run, so a handler runs within that time too.
 */
public final class CpuLimit {
  /** How often a limited process's CPU time is sampled. */
  static final long PERIOD_MS = 100;
  private static final long SECOND = 1_000_000_000L;

  private CpuLimit() {}

  /**
   * Starts or stops sampling {@code p} to follow its RLIMIT_CPU (after setrlimit, fork and the
   * first exec).
   */
  public static void update(ThreadGroup p) {
    long[] l = p.rlimit(Limits.RLIMIT_CPU);
    boolean limited = l[0] != Limits.INFINITY || l[1] != Limits.INFINITY;
    synchronized (p) {
      if (p.cpuTimer != null) {
        p.cpuTimer.cancel(false);
        p.cpuTimer = null;
      }
      if (limited && !p.exiting()) {
        p.cpuTimer = p.kernel().timers.scheduleAtFixedRate(() -> check(p), PERIOD_MS, PERIOD_MS, TimeUnit.MILLISECONDS);
      }
    }
  }

  /** Stops sampling (at exit). */
  static void stop(ThreadGroup p) {
    synchronized (p) {
      ScheduledFuture<?> f = p.cpuTimer;
      if (f != null) {
        f.cancel(false);
        p.cpuTimer = null;
      }
    }
  }

  private static void check(ThreadGroup p) {
    if (p.exiting()) {
      stop(p);
      return;
    }
    int signal = action(p.cpuTimes()[0], p);
    if (signal == Signals.SIGKILL) {
      stop(p);
    }
    if (signal != 0) {
      TaskSignals.postProcess(p, signal, new SigInfo(signal, SigInfo.SI_KERNEL, 0, 0, 0, 0));
    }
  }

  /**
   * The signal {@code cpuNanos} of CPU time calls for under {@code p}'s RLIMIT_CPU (0 for none),
   * moving the soft limit up a second after a SIGXCPU as Linux does.
   */
  static int action(long cpuNanos, ThreadGroup p) {
    synchronized (p.rlimits) {
      long[] l = p.rlimits[Limits.RLIMIT_CPU];
      int signal = decide(cpuNanos, l);
      if (signal == Signals.SIGXCPU) {
        p.rlimits[Limits.RLIMIT_CPU] = new long[] {l[0] + 1, l[1]};
      }
      return signal;
    }
  }

  /**
   * The pure rule: SIGKILL at or past the hard limit (seconds), SIGXCPU at or past the soft one
   * (when it is below the hard one, else SIGKILL comes first), 0 otherwise.
   */
  static int decide(long cpuNanos, long[] limit) {
    long seconds = cpuNanos / SECOND;
    if (limit[1] != Limits.INFINITY && Long.compareUnsigned(seconds, limit[1]) >= 0) {
      return Signals.SIGKILL;
    }
    if (limit[0] != Limits.INFINITY && Long.compareUnsigned(seconds, limit[0]) >= 0) {
      return Signals.SIGXCPU;
    }
    return 0;
  }
}
