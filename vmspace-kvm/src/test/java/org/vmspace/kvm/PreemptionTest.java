package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmspace.kvm.testing.GuestFixture.at;
import static org.vmspace.kvm.testing.GuestFixture.sym;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.vmspace.api.RunResult;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceId;
import org.vmspace.kvm.testing.GuestFixture;

/** Timeouts and interrupts stop a spinning guest, which then resumes where it was. */
class PreemptionTest {
  private final GuestFixture g = new GuestFixture();
  private final VextFrame x = new VextFrame();

  @AfterEach
  void close() {
    g.close();
  }

  private static void assertInSpinLoop(TrapFrame f) {
    assertThat(f.rip()).isBetween(sym("spin"), sym("spin") + 5);
    assertThat(f.trapno()).isZero();
    assertThat(f.err()).isZero();
  }

  @Test
  void aTimeoutStopsAnInfiniteLoopAndTheGuestResumes() {
    VmspaceId id = g.space(1);
    TrapFrame f = at("spin").rax(0);
    long start = System.nanoTime();
    RunResult r = g.vms.run(id, f, x, Duration.ofMillis(50));
    long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertThat(r).isEqualTo(RunResult.TIMEOUT);
    assertThat(elapsedMs).as("returned after %d ms", elapsedMs).isBetween(50L, 250L);
    assertInSpinLoop(f);
    long count = f.rax();
    assertThat(count).isPositive();
    assertThat(g.vms.run(id, f, x, Duration.ofMillis(20))).isEqualTo(RunResult.TIMEOUT);
    assertInSpinLoop(f);
    assertThat(f.rax()).as("the loop kept counting from where it stopped").isGreaterThan(count);
  }

  @Test
  void anInterruptFromAnotherThreadStopsTheRunAndTheGuestResumes() throws Exception {
    VmspaceId id = g.space(1);
    TrapFrame f = at("spin").rax(0);
    Thread runner = Thread.currentThread();
    CompletableFuture<Void> kicker =
        CompletableFuture.runAsync(
            () -> {
              sleep(50);
              g.vms.interrupt(runner);
            });
    long start = System.nanoTime();
    assertThat(g.vms.run(id, f, x)).isEqualTo(RunResult.INTERRUPTED);
    long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    kicker.get();
    assertThat(elapsedMs).isBetween(40L, 250L);
    assertInSpinLoop(f);
    long count = f.rax();
    // Resume: a timeout now ends it, with the counter continued.
    assertThat(g.vms.run(id, f, x, Duration.ofMillis(20))).isEqualTo(RunResult.TIMEOUT);
    assertThat(f.rax()).isGreaterThan(count);
  }

  @Test
  void anInterruptBeforeTheRunStopsTheNextRunAndOnlyThatOne() {
    VmspaceId id = g.space(1);
    g.vms.interrupt(Thread.currentThread());
    g.vms.interrupt(Thread.currentThread()); // interrupts do not accumulate
    TrapFrame f = at("one_syscall");
    assertThat(g.vms.run(id, f, x)).isEqualTo(RunResult.INTERRUPTED);
    assertThat(f.rip()).as("the guest did not run").isEqualTo(sym("one_syscall"));
    assertThat(g.vms.run(id, f, x)).isEqualTo(RunResult.SYSCALL);
  }

  @Test
  void aTimerThatExpiresAfterTheRunDoesNotStopTheNextOne() {
    VmspaceId id = g.space(1);
    for (int i = 0; i < 50; i++) {
      TrapFrame f = at("one_syscall");
      assertThat(g.vms.run(id, f, x, Duration.ofNanos(1_000 + i * 2_000L)))
          .isIn(RunResult.SYSCALL, RunResult.TIMEOUT);
    }
    sleep(5);
    TrapFrame f = at("spin");
    Thread runner = Thread.currentThread();
    CompletableFuture<Void> kicker =
        CompletableFuture.runAsync(() -> {
          sleep(100);
          g.vms.interrupt(runner);
        });
    assertThat(g.vms.run(id, f, x)).isEqualTo(RunResult.INTERRUPTED);
    kicker.join();
  }

  @Test
  void interruptsReachTheRightThreadAmongSeveral() throws Exception {
    VmspaceId a = g.space(1);
    VmspaceId b = g.space(2);
    CountDownLatch started = new CountDownLatch(2);
    RunResult[] results = new RunResult[2];
    Thread ta = Thread.ofPlatform().start(() -> {
      started.countDown();
      results[0] = g.vms.run(a, at("spin"), new VextFrame(), Duration.ofSeconds(5));
    });
    Thread tb = Thread.ofPlatform().start(() -> {
      started.countDown();
      results[1] = g.vms.run(b, at("spin"), new VextFrame(), Duration.ofMillis(300));
    });
    started.await();
    sleep(50);
    g.vms.interrupt(ta);
    ta.join(2000);
    assertThat(results[0]).isEqualTo(RunResult.INTERRUPTED);
    tb.join(2000);
    assertThat(results[1]).isEqualTo(RunResult.TIMEOUT);
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
