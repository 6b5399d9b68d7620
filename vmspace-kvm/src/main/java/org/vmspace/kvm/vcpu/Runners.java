package org.vmspace.kvm.vcpu;

import com.google.common.collect.MapMaker;
import java.util.concurrent.ConcurrentMap;
import org.vmspace.kvm.linux.Libc;

/**
 * The {@link RunnerState} of every thread that runs (or is asked to stop running) guests of a
 * context, and the interrupt that stops one. States of dead threads are dropped with their
 * {@link Thread} objects (weak keys).
 */
public final class Runners {
  private final ConcurrentMap<Thread, RunnerState> states = new MapMaker().weakKeys().makeMap();
  private final int pid = Libc.getpid();

  /** The calling thread's state, created on first use (with its kernel thread id). */
  public RunnerState current() {
    Thread t = Thread.currentThread();
    RunnerState s = states.get(t);
    if (s == null) {
      s = states.computeIfAbsent(t, RunnerState::new);
    }
    if (s.tid == 0) {
      s.tid = Libc.gettid();
    }
    return s;
  }

  /** Whether {@code thread} is inside a run now. */
  public boolean isInRun(Thread thread) {
    RunnerState s = states.get(thread);
    return s != null && s.inRun;
  }

  /**
   * Stops {@code thread}'s current run, or its next one. Callable from any thread.
   *
   * @throws IllegalArgumentException if the thread is not alive
   */
  public void interrupt(Thread thread) {
    RunnerState s = states.computeIfAbsent(thread, RunnerState::new);
    s.interruptRequested = true;
    // Dekker with the runner: the request is published before we look at inRun.
    if (s.inRun) {
      int tid = s.tid;
      if (tid != 0) {
        Libc.tgkill(pid, tid, KickSignal.number()); // ESRCH if it just ended: harmless
      }
    }
  }
}
