package org.vmspace.kvm.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.management.ManagementFactory;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The gate that keeps a context's descriptors alive while calls use them (host only). */
class CallGateTest {
  private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

  @Test
  void callsEnterUntilClosingBeginsAndAreRefusedAfter() {
    CallGate gate = new CallGate();
    gate.enter();
    gate.enter(); // reentrant
    gate.leave();
    gate.leave();
    assertThat(gate.closeAndDrain(() -> { }, SECOND)).isTrue();
    assertThat(gate.isClosing()).isTrue();
    assertThat(gate.tryEnter()).isFalse();
    assertThatThrownBy(gate::enter).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
  }

  @Test
  void closeWaitsForTheCallInProgressAndNudgesIt() throws Exception {
    CallGate gate = new CallGate();
    CountDownLatch entered = new CountDownLatch(1);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicBoolean left = new AtomicBoolean();
    Thread call = Thread.ofPlatform().start(() -> {
      gate.enter();
      try {
        entered.countDown();
        while (!stop.get()) {
          Thread.onSpinWait();
        }
      } finally {
        left.set(true);
        gate.leave();
      }
    });
    entered.await();
    AtomicInteger nudges = new AtomicInteger();
    // The call stops only at the third nudge: close must keep nudging, and wait for it to leave.
    boolean drained = gate.closeAndDrain(() -> {
      if (nudges.incrementAndGet() == 3) {
        stop.set(true);
      }
    }, 10 * SECOND);
    assertThat(drained).isTrue();
    assertThat(left).isTrue();
    assertThat(nudges.get()).isGreaterThanOrEqualTo(3);
    call.join();
  }

  @Test
  void aCallThatNeverLeavesMeansNotDrainedAndNewCallsStayRefused() throws Exception {
    CallGate gate = new CallGate();
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread call = Thread.ofPlatform().start(() -> {
      gate.enter();
      entered.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        gate.leave();
      }
    });
    entered.await();
    assertThat(gate.closeAndDrain(() -> { }, SECOND / 20)).isFalse();
    assertThat(gate.tryEnter()).isFalse();
    release.countDown();
    call.join();
  }

  @Test
  void closingFromInsideACallDoesNotWaitForItself() {
    CallGate gate = new CallGate();
    gate.enter();
    try {
      assertThat(gate.closeAndDrain(() -> { }, 10 * SECOND)).isFalse();
      assertThat(gate.isClosing()).isTrue();
    } finally {
      gate.leave();
    }
    assertThat(gate.tryEnter()).isFalse();
  }

  /**
   * Every guest system call enters the gate (issue 17): entering and leaving allocate nothing,
   * also for a thread that enters while another is inside (a read lock's per-thread hold counter
   * was made anew at each such call).
   */
  @Test
  void enteringAllocatesNothingWhileAnotherThreadIsInside() throws Exception {
    CallGate gate = new CallGate();
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread other = Thread.ofPlatform().start(() -> {
      gate.enter();
      entered.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        gate.leave();
      }
    });
    entered.await();
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    threads.setThreadAllocatedMemoryEnabled(true);
    int calls = 100_000;
    long allocated = 0;
    for (int round = 0; round < 2; round++) { // the first round warms up
      long before = threads.getCurrentThreadAllocatedBytes();
      for (int i = 0; i < calls; i++) {
        gate.enter();
        gate.enter();
        gate.leave();
        gate.leave();
      }
      allocated = threads.getCurrentThreadAllocatedBytes() - before;
    }
    release.countDown();
    other.join();
    assertThat(allocated).as("bytes allocated by %d calls", calls).isLessThan(calls);
    assertThat(gate.closeAndDrain(() -> { }, SECOND)).isTrue();
  }
}
