package org.vmspace.vkernel.stats;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/**
 * The system-call counts of every task of a kernel, live and ended: each task counts into its
 * own {@link SyscallCounters} (registered when it starts), and its counts are folded into the
 * ended tasks' sum when it ends. Reads sum both; they are exact once the tasks are quiet. Counts
 * how many tasks and thread groups there were. Thread-safe.
 */
public final class KernelStats {
  private final SyscallCounters ended = new SyscallCounters();
  private final Set<SyscallCounters> live = Collections.newSetFromMap(new IdentityHashMap<>());
  private long tasks;
  private long processes;

  /** A new task's counters, counted from now on. */
  public synchronized SyscallCounters newTask() {
    SyscallCounters c = new SyscallCounters();
    live.add(c);
    tasks++;
    return c;
  }

  /** A new thread group (process) was made. */
  public synchronized void newProcess() {
    processes++;
  }

  /** A task ended: its counts join the ended tasks' sum. */
  public synchronized void taskEnded(SyscallCounters c) {
    if (live.remove(c)) {
      add(ended, c);
    }
  }

  /** The sum over every task so far. */
  public synchronized Snapshot snapshot() {
    SyscallCounters sum = new SyscallCounters();
    add(sum, ended);
    for (SyscallCounters c : live) {
      add(sum, c);
    }
    return new Snapshot(sum.calls.clone(), sum.nanos.clone(), sum.pageFaultSignals, sum.trapSignals, tasks, processes);
  }

  private static void add(SyscallCounters into, SyscallCounters from) {
    for (int i = 0; i < into.calls.length; i++) {
      into.calls[i] += from.calls[i];
      into.nanos[i] += from.nanos[i];
    }
    into.pageFaultSignals += from.pageFaultSignals;
    into.trapSignals += from.trapSignals;
  }

  /** The counts at one moment: immutable (its arrays are private copies). */
  public static final class Snapshot {
    private final long[] calls;
    private final long[] nanos;
    private final long pageFaultSignals;
    private final long trapSignals;
    private final long tasks;
    private final long processes;

    Snapshot(long[] calls, long[] nanos, long pageFaultSignals, long trapSignals, long tasks, long processes) {
      this.calls = calls;
      this.nanos = nanos;
      this.pageFaultSignals = pageFaultSignals;
      this.trapSignals = trapSignals;
      this.tasks = tasks;
      this.processes = processes;
    }

    /** Calls of number {@code nr} ({@link SyscallCounters#OUT_OF_RANGE} for the rest). */
    public long calls(int nr) {
      return calls[nr];
    }

    /** The kernel's handling nanoseconds of number {@code nr}. */
    public long nanos(int nr) {
      return nanos[nr];
    }

    /** Page faults the kernel turned into signals (SIGSEGV, SIGBUS). */
    public long pageFaultSignals() {
      return pageFaultSignals;
    }

    /** Other traps turned into signals (SIGILL, SIGTRAP, SIGFPE, SIGSEGV, SIGBUS). */
    public long trapSignals() {
      return trapSignals;
    }

    /** How many tasks (guest threads) there were, ended ones included. */
    public long tasks() {
      return tasks;
    }

    /** How many thread groups (processes) there were. */
    public long processes() {
      return processes;
    }

    /** Every system call. */
    public long totalCalls() {
      long n = 0;
      for (long c : calls) {
        n += c;
      }
      return n;
    }

    /** The kernel's handling time of every system call. */
    public long totalNanos() {
      long n = 0;
      for (long c : nanos) {
        n += c;
      }
      return n;
    }
  }
}
