package org.vmspace.kvm.service;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;

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
 * <p>Calls share the gate (a read lock, reentrant); closing takes it exclusively. A call that
 * arrives after closing began gets {@link IllegalStateException}, the documented result of using
 * a closed service.
 */
final class CallGate {
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
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
    lock.readLock().lock();
    if (closing) {
      lock.readLock().unlock();
      return false;
    }
    return true;
  }

  /** Leaves a call entered by {@link #enter()} or a successful {@link #tryEnter()}. */
  void leave() {
    lock.readLock().unlock();
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
    if (lock.getReadHoldCount() > 0) {
      return false;
    }
    long deadline = System.nanoTime() + limitNanos;
    boolean interrupted = false;
    try {
      while (true) {
        nudge.run();
        try {
          if (lock.writeLock().tryLock(10, TimeUnit.MILLISECONDS)) {
            // Held for good: every later tryEnter waits here no more, it sees closing.
            lock.writeLock().unlock();
            return true;
          }
        } catch (InterruptedException e) {
          interrupted = true;
        }
        if (System.nanoTime() - deadline > 0) {
          return false;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
