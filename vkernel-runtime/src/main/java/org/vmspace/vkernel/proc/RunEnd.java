package org.vmspace.vkernel.proc;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.vmspace.vkernel.signal.Signals;

/**
 * How a run ends when every guest process is killed at once: a second Ctrl-C, {@code --timeout},
 * the first process's exit with others left behind, or the kernel's close.
 *
 * <p>Once {@link #killAll} has marked the kernel as ending, no process or thread is made any more
 * (clone says ERESTARTSYS, as Linux does for a caller with a fatal signal pending), and each
 * task's loop ends without the per-thread exit bookkeeping (the robust list and
 * CLONE_CHILD_CLEARTID word, the kernel lock, the task table, its parent's notification): no guest
 * outlives the end to see any of it, and with 10^4 threads that bookkeeping, serialised on the
 * kernel lock and the vmspace's lock, is most of the time a kill takes. When every task's loop
 * has ended, {@link #tearDown} releases each process's resources (descriptors, address space,
 * locks, IPC undo) from one thread and empties the tables; the run then reports the first
 * process's status: its exit status if it had exited, else what ended it (SIGKILL, or the
 * exit_group status it was already ending with).
 *
 * <p>When the process exits next ({@link KernelConfig#exitsWithProcess}), the threads parked in a
 * blocking wait are not even woken: with 10^4 of them, waking each and ending its loop was most
 * of what was left of a kill (0.3-0.45 s). The end then comes when every task has ended or is
 * parked in a wait: such a thread that wakes later (its descriptor became ready) sees its
 * process exiting and ends, as after a wake, and the process's exit ends the rest. Their
 * interrupted system calls are neither traced nor counted; each process's end is traced.
 *
 * <p>Thread-safe. {@link #taskMade} and {@link #taskEnded} count every task from its making to
 * the end of its loop (or its discarding unstarted); the counting is one atomic operation each.
 */
final class RunEnd {
  private final Kernel kernel;
  /** Tasks made and not yet ended: their loop still runs, or they have not started yet. */
  private final AtomicInteger live = new AtomicInteger();
  /** Kernel lock to set; read without it. */
  private volatile boolean ending;
  /** Completed by {@link #killAll}; replaced by {@link #reset}. */
  private volatile CompletableFuture<Void> killed = new CompletableFuture<>();
  /** Completed once the kernel is ending and no task is live; replaced by {@link #reset}. */
  private volatile CompletableFuture<Void> quiet = new CompletableFuture<>();

  RunEnd(Kernel kernel) {
    this.kernel = kernel;
  }

  /** A task was made (counted until {@link #taskEnded}). */
  void taskMade() {
    live.incrementAndGet();
  }

  /** A task's loop ended, or it was discarded without running. */
  void taskEnded() {
    if (live.decrementAndGet() == 0 && ending) {
      quiet.complete(null);
    }
  }

  /** Whether every guest is being killed: tasks end without their exit bookkeeping. */
  boolean ending() {
    return ending;
  }

  /** The tasks made and not yet ended. */
  int live() {
    return live.get();
  }

  /** Completed when {@link #killAll} has been called: what a run waits for besides its first process. */
  CompletableFuture<Void> killed() {
    return killed;
  }

  /** Completed when the kernel is ending and every task has ended. */
  CompletableFuture<Void> quiet() {
    return quiet;
  }

  /**
   * Marks the kernel as ending and kills every process with SIGKILL, whatever it blocks or
   * ignores. Idempotent.
   */
  void killAll() {
    List<ThreadGroup> all;
    kernel.lock.lock();
    try {
      ending = true;
      all = new ArrayList<>(kernel.processes.values());
    } finally {
      kernel.lock.unlock();
    }
    if (live.get() == 0) {
      quiet.complete(null);
    }
    boolean wakeBlocked = !kernel.config.exitsWithProcess();
    for (ThreadGroup p : all) {
      p.requestExit(Signals.SIGKILL, wakeBlocked);
    }
    killed.complete(null);
  }

  /**
   * Waits until every task has ended (after {@link #killAll}).
   *
   * @return false if some task still ran after {@code limit} (a thread stuck in a host call)
   */
  boolean awaitQuiet(Duration limit) throws InterruptedException {
    if (kernel.config.exitsWithProcess()) {
      return awaitStill(limit);
    }
    try {
      quiet.get(limit.toNanos(), TimeUnit.NANOSECONDS);
      return true;
    } catch (TimeoutException e) {
      return false;
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    }
  }

  /**
   * Waits until every task has ended or is parked in a blocking wait, looking every millisecond
   * (each look reads two flags of each task).
   *
   * @return false if some task still ran after {@code limit}
   */
  private boolean awaitStill(Duration limit) throws InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!still()) {
      if (System.nanoTime() - deadline > 0) {
        return false;
      }
      Thread.sleep(1);
    }
    return true;
  }

  /** Whether every task in the table has ended or is parked in a blocking wait. */
  boolean still() {
    List<Task> all;
    kernel.lock.lock();
    try {
      all = new ArrayList<>(kernel.tasks.values());
    } finally {
      kernel.lock.unlock();
    }
    for (Task t : all) {
      if (!t.loopEnded() && !t.blocker().isBlocked()) {
        return false;
      }
    }
    return true;
  }

  /**
   * Releases the resources of every process that has not finished its own exit and empties the
   * tables, for the next run. Called when every task has ended ({@code quietNow}: {@link
   * #awaitQuiet} said so), when no task touches a process any more. Without that (a task still
   * running) nothing is released, a leak rather than resources pulled from under a running
   * thread; nor when the process exits next ({@link KernelConfig#exitsWithProcess}), which
   * releases them all at once. The tables are emptied all the same, and the trace gets each
   * process's end.
   */
  void tearDown(boolean quietNow) {
    List<ThreadGroup> exiting = new ArrayList<>();
    kernel.lock.lock();
    try {
      for (ThreadGroup p : kernel.processes.values()) {
        if (!p.zombie) {
          p.zombie = true;
          // No parent is told of an end the kernel imposes: a wait left over sees it at once.
          p.exitNotified = true;
          p.waitStatus = p.exitStatus();
          exiting.add(p);
        }
      }
    } finally {
      kernel.lock.unlock();
    }
    boolean release = quietNow && !kernel.config.exitsWithProcess();
    for (ThreadGroup p : exiting) {
      if (release) {
        TaskExit.releaseResources(p);
      }
      TaskExit.traceExit(p, p.waitStatus);
    }
    kernel.clearTables();
  }

  /** Ready for the next run: no longer ending. Under the kernel lock, with the tables empty. */
  void reset() {
    ending = false;
    killed = new CompletableFuture<>();
    quiet = new CompletableFuture<>();
  }
}
