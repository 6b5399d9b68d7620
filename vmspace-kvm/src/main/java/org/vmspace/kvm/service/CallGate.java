package org.vmspace.kvm.service;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Keeps a context's descriptors and memory alive while any call uses them: every call that
 * reaches the KVM file descriptors, the guest memfd or the guest memory mapping {@linkplain
 * #enter() enters} the gate and {@linkplain #leave() leaves} it on every path, and the context is
 * released only once {@link #closeAndDrain} has seen the last call leave.
 *
 * <p>Without it, {@code close()} racing with a run or an {@code munmap} closed the memfd under a
 * {@code fallocate} (EBADF, or worse, a hole punched in whatever file reused the descriptor
 * number) and a VM descriptor under an ioctl.
 *
 * <p>Calls share the gate (reentrant: a thread may enter again inside its own call); closing
 * refuses new ones. A call that arrives after closing began gets {@link IllegalStateException},
 * the documented result of using a closed service.
 *
 * <p>Every guest system call enters the gate, so entering allocates nothing (issue 17, the hot
 * path): a count of the threads inside and each thread's own depth. (A read lock of a {@code
 * ReentrantReadWriteLock} allocated its per-thread hold counter again at each call of every
 * reader but the first, as soon as two threads ran guests at once.) The count and the closing
 * flag are a Dekker pair: a caller increments, then reads the flag; closing sets the flag, then
 * reads the count; so either the caller sees the flag and backs out, or closing sees the caller.
 */
final class CallGate {
  /** Threads inside a call (a thread in nested calls counts once). */
  private final AtomicInteger inside = new AtomicInteger();
  /** This thread's depth of nested calls; made once per thread, never per call. */
  private final ThreadLocal<int[]> depth = ThreadLocal.withInitial(() -> new int[1]);
  private volatile boolean closing;

  /**
   * Enters a call.
   *
   * @throws IllegalStateException if the context is closed or closing
   */
  void enter() {
    if (!tryEnter()) {
      throw new IllegalStateException("context is closed");
    }
  }

  /** Enters a call unless the context is closed or closing; {@code true} if it entered. */
  boolean tryEnter() {
    int[] d = depth.get();
    if (d[0]++ == 0) {
      inside.incrementAndGet();
    }
    if (closing) {
      leave(d);
      return false;
    }
    return true;
  }

  /** Leaves a call entered by {@link #enter()} or a successful {@link #tryEnter()}. */
  void leave() {
    leave(depth.get());
  }

  private void leave(int[] d) {
    if (d[0] <= 0) {
      throw new IllegalStateException("leaving a call gate not entered");
    }
    if (--d[0] == 0) {
      inside.decrementAndGet();
    }
  }

  /** Whether closing has begun. */
  boolean isClosing() {
    return closing;
  }

  /**
   * Refuses new calls, then waits until the calls in progress have left, running {@code nudge}
   * (which asks them to stop, e.g. interrupts their runs) first and every 10 ms while waiting.
   *
   * @return {@code true} once no call is in progress and none can start, {@code false} if calls
   *     were still in progress after {@code limitNanos}, or if the calling thread is itself inside
   *     a call (then it could never drain); the caller must then not release what calls use
   */
  boolean closeAndDrain(Runnable nudge, long limitNanos) {
    closing = true;
    if (depth.get()[0] > 0) {
      return false;
    }
    long start = System.nanoTime();
    long nudgeEvery = TimeUnit.MILLISECONDS.toNanos(10);
    long lastNudge = start - nudgeEvery;
    boolean interrupted = false;
    try {
      while (true) {
        long now = System.nanoTime();
        if (now - lastNudge >= nudgeEvery) {
          nudge.run();
          lastNudge = now;
        }
        if (inside.get() == 0) {
          // For good: a call arriving from now on sees closing and backs out.
          return true;
        }
        if (now - start > limitNanos) {
          return false;
        }
        // Polls; an interrupt must not turn the wait into a spin, and is kept for the caller.
        interrupted |= Thread.interrupted();
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
