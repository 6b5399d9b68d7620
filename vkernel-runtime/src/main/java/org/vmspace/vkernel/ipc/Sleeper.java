package org.vmspace.vkernel.ipc;

/**
 * How a blocking IPC operation sleeps: the calling thread, which any other thread can wake. A
 * wake that comes before the sleep is not lost (the next {@link #sleep} returns at once), and a
 * sleep may also return for no reason: the operations recheck their condition each time.
 */
public interface Sleeper {
  /** Why {@link #sleep} returned. */
  enum Result {
    /** {@link #wake} was called (or spuriously): recheck. */
    WOKEN,
    /** A signal is pending for the thread: the operation fails with EINTR. */
    SIGNAL,
    /** The deadline passed. */
    TIMEOUT
  }

  /**
   * Sleeps until woken, a signal arrives or {@code deadline} (a {@link System#nanoTime()} value,
   * 0 for none) passes. Called without any IPC lock held.
   */
  Result sleep(long deadline);

  /** Wakes the sleeping thread (or makes its next sleep return at once). Any thread may call it. */
  void wake();
}
