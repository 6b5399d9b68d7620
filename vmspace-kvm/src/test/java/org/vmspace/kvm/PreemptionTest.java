package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmspace.kvm.testing.GuestFixture.at;
import static org.vmspace.kvm.testing.GuestFixture.sym;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.vmspace.api.RunResult;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceId;
import org.vmspace.kvm.testing.GuestFixture;
import org.vmspace.kvm.testing.Heartbeat;
import org.vmspace.kvm.testing.KvmTests;

/**
 * Timeouts and interrupts stop a spinning guest, which then resumes where it was. Tests act on a
 * running guest once its heartbeat moves (see {@link Heartbeat}), never after a fixed sleep; the
 * bounds on promptness are scaled where the machine is emulated ({@link KvmTests#timeScale}).
 */
@Tag("kvm")
class PreemptionTest {
  private final GuestFixture g = new GuestFixture();
  private final VextFrame x = new VextFrame();
  private final long scale = KvmTests.timeScale();

  @AfterEach
  void close() {
    g.close();
  }

  /** A vmspace whose guest will count at {@link Heartbeat#ADDRESS}. */
  private record Beating(VmspaceId id, Heartbeat beat) {}

  private Beating beating(long id) {
    VmspaceId v = g.space(id);
    return new Beating(v, new Heartbeat(g.vms, v));
  }

  private static TrapFrame spinBeat() {
    return at("spin_beat").rax(0).rcx(Heartbeat.ADDRESS);
  }

  private static void assertInSpinLoop(TrapFrame f) {
    assertThat(f.rip()).isBetween(sym("spin_beat"), sym("spin_beat_end"));
    assertThat(f.trapno()).isZero();
    assertThat(f.err()).isZero();
  }

  @Test
  void aTimeoutStopsAnInfiniteLoopAndTheGuestResumes() {
    Beating b = beating(1);
    TrapFrame f = spinBeat();
    long start = System.nanoTime();
    RunResult r = g.vms.run(b.id(), f, x, Duration.ofMillis(50));
    long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertThat(r).isEqualTo(RunResult.TIMEOUT);
    assertThat(elapsedMs).as("returned after %d ms", elapsedMs).isBetween(50L, 250L * scale);
    assertInSpinLoop(f);
    long count = f.rax();
    assertThat(count).isPositive();
    assertThat(g.vms.run(b.id(), f, x, Duration.ofMillis(20))).isEqualTo(RunResult.TIMEOUT);
    assertInSpinLoop(f);
    assertThat(f.rax()).as("the loop kept counting from where it stopped").isGreaterThan(count);
    b.beat().close();
  }

  @Test
  void anInterruptFromAnotherThreadStopsTheRunAndTheGuestResumes() throws Exception {
    Beating b = beating(1);
    TrapFrame f = spinBeat();
    Thread runner = Thread.currentThread();
    AtomicBoolean ended = new AtomicBoolean();
    CompletableFuture<Long> kicker = CompletableFuture.supplyAsync(() -> {
      try {
        assertThat(b.beat().await(1, ended::get)).as("the guest ran").isTrue();
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
      long sent = System.nanoTime();
      g.vms.interrupt(runner);
      return sent;
    });
    RunResult r = g.vms.run(b.id(), f, x);
    long returned = System.nanoTime();
    ended.set(true);
    assertThat(r).isEqualTo(RunResult.INTERRUPTED);
    long ms = TimeUnit.NANOSECONDS.toMillis(returned - kicker.get());
    assertThat(ms).as("returned %d ms after the interrupt", ms).isLessThan(250L * scale);
    assertInSpinLoop(f);
    long count = f.rax();
    // Resume: a timeout now ends it, with the counter continued.
    assertThat(g.vms.run(b.id(), f, x, Duration.ofMillis(20))).isEqualTo(RunResult.TIMEOUT);
    assertThat(f.rax()).isGreaterThan(count);
    b.beat().close();
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
  void aTimerThatExpiresAfterTheRunDoesNotStopTheNextOne() throws Exception {
    Beating b = beating(1);
    long longest = 0;
    for (int i = 0; i < 50; i++) {
      TrapFrame f = at("one_syscall");
      long nanos = 1_000 + i * 2_000L;
      longest = Math.max(longest, nanos);
      assertThat(g.vms.run(b.id(), f, x, Duration.ofNanos(nanos))).isIn(RunResult.SYSCALL, RunResult.TIMEOUT);
    }
    // Every timer armed above has expired by now; none of them may end the next run.
    TimeUnit.NANOSECONDS.sleep(longest);
    Thread runner = Thread.currentThread();
    AtomicBoolean ended = new AtomicBoolean();
    CompletableFuture<Void> kicker = CompletableFuture.runAsync(() -> {
      try {
        // A good many rounds: the run has been going on for a while when it is interrupted.
        if (b.beat().await(100_000, ended::get)) {
          g.vms.interrupt(runner);
        }
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
    });
    RunResult r = g.vms.run(b.id(), spinBeat(), x);
    ended.set(true);
    kicker.join();
    assertThat(r).as("a stale timer ended the run").isEqualTo(RunResult.INTERRUPTED);
    b.beat().close();
  }

  @Test
  void interruptsReachTheRightThreadAmongSeveral() throws Exception {
    Beating a = beating(1);
    Beating b = beating(2);
    RunResult[] results = new RunResult[2];
    AtomicBoolean aEnded = new AtomicBoolean();
    Thread ta = Thread.ofPlatform().start(() -> {
      results[0] = g.vms.run(a.id(), spinBeat(), new VextFrame(), Duration.ofSeconds(60));
      aEnded.set(true);
    });
    Thread tb = Thread.ofPlatform().start(() ->
        results[1] = g.vms.run(b.id(), spinBeat(), new VextFrame(), Duration.ofMillis(300)));
    assertThat(a.beat().await(1, aEnded::get)).as("guest A ran").isTrue();
    g.vms.interrupt(ta);
    ta.join();
    assertThat(results[0]).isEqualTo(RunResult.INTERRUPTED);
    tb.join();
    assertThat(results[1]).isEqualTo(RunResult.TIMEOUT);
    a.beat().close();
    b.beat().close();
  }
}
