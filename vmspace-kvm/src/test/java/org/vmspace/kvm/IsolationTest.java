package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.vmspace.kvm.testing.GuestFixture.at;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.vmspace.api.Errno;
import org.vmspace.api.Prot;
import org.vmspace.api.RunResult;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceId;
import org.vmspace.kvm.testing.GuestFixture;
import org.vmspace.kvm.testing.Heartbeat;

/** Each vmspace sees only its own memory, on one thread or several; destroy respects runs. */
@Tag("kvm")
class IsolationTest {
  private static final long DATA = 0x6000_0000L;
  private final GuestFixture g = new GuestFixture();

  @AfterEach
  void close() {
    g.close();
  }

  private VmspaceId spaceWithValue(long id, long value) {
    VmspaceId v = g.space(id);
    g.anon(v, DATA, 4096, Prot.PROT_READ | Prot.PROT_WRITE);
    g.poke(v, DATA, value);
    return v;
  }

  @Test
  void twoVmspacesAlternatingOnOneThreadEachSeeTheirOwnMemory() {
    VmspaceId a = spaceWithValue(1, 0xAAAA);
    VmspaceId b = spaceWithValue(2, 0xBBBB);
    TrapFrame fa = at("read_report").rbx(DATA);
    TrapFrame fb = at("read_report").rbx(DATA);
    VextFrame xa = new VextFrame();
    VextFrame xb = new VextFrame();
    for (int i = 0; i < 500; i++) {
      assertThat(g.run(a, fa, xa)).isEqualTo(RunResult.SYSCALL);
      assertThat(fa.rdi()).as("A at round %d", i).isEqualTo(0xAAAA + i);
      assertThat(g.run(b, fb, xb)).isEqualTo(RunResult.SYSCALL);
      assertThat(fb.rdi()).as("B at round %d", i).isEqualTo(0xBBBB + 2L * i);
      g.poke(a, DATA, 0xAAAA + i + 1);
      g.poke(b, DATA, 0xBBBB + 2L * (i + 1));
    }
  }

  @Test
  void guestWritesStayInTheirVmspace() {
    VmspaceId a = spaceWithValue(1, 0);
    VmspaceId b = spaceWithValue(2, 0);
    TrapFrame fa = at("write_report").rbx(DATA).rdi(0x1111);
    TrapFrame fb = at("write_report").rbx(DATA).rdi(0x2222);
    assertThat(g.run(a, fa, new VextFrame())).isEqualTo(RunResult.SYSCALL);
    assertThat(g.run(b, fb, new VextFrame())).isEqualTo(RunResult.SYSCALL);
    assertThat(g.peek(a, DATA)).isEqualTo(0x1111);
    assertThat(g.peek(b, DATA)).isEqualTo(0x2222);
  }

  @Test
  void twoThreadsRunTwoVmspacesAtOnce() throws Exception {
    VmspaceId a = spaceWithValue(1, 0xA0000);
    VmspaceId b = spaceWithValue(2, 0xB0000);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch go = new CountDownLatch(1);
    Thread[] threads = new Thread[2];
    VmspaceId[] ids = {a, b};
    long[] bases = {0xA0000, 0xB0000};
    for (int t = 0; t < 2; t++) {
      int k = t;
      threads[t] = Thread.ofPlatform().start(() -> {
        try {
          go.await();
          TrapFrame f = at("syscall_loop").rax(bases[k]);
          VextFrame x = new VextFrame();
          for (int i = 0; i < 3000; i++) {
            assertThat(g.run(ids[k], f, x)).isEqualTo(RunResult.SYSCALL);
            assertThat(f.rdi()).isEqualTo(bases[k] + i);
            assertThat(f.rsi()).isEqualTo(i + 1);
            f.rax(bases[k] + i + 1);
          }
        } catch (Throwable e) {
          failure.compareAndSet(null, e);
        }
      });
    }
    go.countDown();
    for (Thread t : threads) {
      t.join();
    }
    assertThat(failure.get()).isNull();
  }

  @Test
  void destroyWhileRunningIsBusyAndSucceedsAfterTheRunReturns() throws Exception {
    VmspaceId a = spaceWithValue(1, 0);
    AtomicReference<RunResult> result = new AtomicReference<>();
    try (Heartbeat beat = new Heartbeat(g.vms, a)) {
      Thread runner = Thread.ofPlatform().start(() ->
          result.set(g.vms.run(a, at("spin_beat").rcx(Heartbeat.ADDRESS), new VextFrame())));
      assertThat(beat.await(1, () -> !runner.isAlive())).as("the guest ran").isTrue();
      for (int i = 0; i < 3; i++) {
        assertThatThrownBy(() -> g.vms.destroy(a))
            .isInstanceOf(VmspaceException.class)
            .matches(e -> ((VmspaceException) e).errno() == Errno.EBUSY);
      }
      g.vms.interrupt(runner);
      runner.join();
    }
    assertThat(result.get()).isEqualTo(RunResult.INTERRUPTED);
    g.vms.destroy(a);
    assertThatThrownBy(() -> g.vms.run(a, at("spin"), new VextFrame()))
        .matches(e -> ((VmspaceException) e).errno() == Errno.ENOENT);
  }

  @Test
  void unmappedMemoryFaultsAndIsNeverSeenAgain() {
    VmspaceId a = spaceWithValue(1, 0x5A5A);
    TrapFrame f = at("read_report").rbx(DATA);
    assertThat(g.run(a, f, new VextFrame())).isEqualTo(RunResult.SYSCALL);
    assertThat(f.rdi()).isEqualTo(0x5A5A);
    g.vms.munmap(a, DATA, 4096);
    assertThat(g.run(a, f, new VextFrame())).isEqualTo(RunResult.PAGEFAULT);
    assertThat(f.addr()).isEqualTo(DATA);
    assertThat(f.err()).isEqualTo(4); // user read of a not-present page
    // Map it again: a fresh zero page, never the old bytes.
    g.anon(a, DATA, 4096, Prot.PROT_READ | Prot.PROT_WRITE);
    assertThat(g.run(a, f, new VextFrame())).isEqualTo(RunResult.SYSCALL);
    assertThat(f.rdi()).isZero();
  }
}
