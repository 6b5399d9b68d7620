package org.vmspace.vkernel.ipc;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** A {@link Sleeper} over a Java thread: {@link #signal} plays a signal arriving. */
final class TestSleeper implements Sleeper {
  private final Semaphore permits = new Semaphore(0);
  private final AtomicInteger sleeping = new AtomicInteger();
  private volatile boolean signal;

  @Override
  public Result sleep(long deadline) {
    if (signal) {
      return Result.SIGNAL;
    }
    sleeping.incrementAndGet();
    try {
      if (deadline == 0) {
        permits.acquire();
      } else {
        long left = deadline - System.nanoTime();
        if (left <= 0 || !permits.tryAcquire(left, TimeUnit.NANOSECONDS)) {
          return Result.TIMEOUT;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Result.SIGNAL;
    } finally {
      sleeping.decrementAndGet();
    }
    permits.drainPermits();
    return signal ? Result.SIGNAL : Result.WOKEN;
  }

  @Override
  public void wake() {
    permits.release();
  }

  /** A signal: the sleep returns SIGNAL. */
  void signal() {
    signal = true;
    permits.release();
  }

  /** Waits (up to 10 s) until the thread running {@code call} sleeps here. */
  void awaitSleeping(java.util.concurrent.CompletableFuture<?> call) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (sleeping.get() == 0) {
      if (call.isDone()) {
        throw new AssertionError("the call ended: " + call, call.exceptionNow());
      }
      if (System.nanoTime() > end) {
        throw new AssertionError("nobody sleeps");
      }
      Thread.sleep(1);
    }
  }
}
