package org.vmspace.vkernel.stats;

/**
 * One task's system-call counts: calls and handling nanoseconds per system-call number, and
 * guest faults turned into signals. Written by the task's own thread only, with plain array
 * stores (no allocation, no atomics on the system-call path); {@link KernelStats} sums them when
 * read, so a read while the task runs may miss its latest calls.
 */
public final class SyscallCounters {
  /** Numbers {@code 0..NUMBERS-1} have a slot each; others (ENOSYS anyway) share the last. */
  public static final int NUMBERS = 512;
  /** The slot of every number outside {@code 0..NUMBERS-1}. */
  public static final int OUT_OF_RANGE = NUMBERS;

  final long[] calls = new long[NUMBERS + 1];
  final long[] nanos = new long[NUMBERS + 1];
  long pageFaultSignals;
  long trapSignals;

  /** Counts one system call {@code nr} that took {@code elapsed} nanoseconds to handle. */
  public void syscall(long nr, long elapsed) {
    int slot = nr >= 0 && nr < NUMBERS ? (int) nr : OUT_OF_RANGE;
    calls[slot]++;
    nanos[slot] += elapsed;
  }

  /** Counts a guest fault the kernel turned into a signal: a page fault, or another trap. */
  public void faultSignal(boolean pageFault) {
    if (pageFault) {
      pageFaultSignals++;
    } else {
      trapSignals++;
    }
  }

  /** The calls of number {@code nr} so far ({@link #OUT_OF_RANGE} for the others). */
  public long calls(int slot) {
    return calls[slot];
  }
}
