package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.vmspace.kvm.testing.GuestFixture.at;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.vmspace.api.Errno;
import org.vmspace.api.RunResult;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceOptions;
import org.vmspace.kvm.testing.GuestFixture;
import org.vmspace.kvm.testing.KvmTests;

/**
 * vCPUs follow threads: created on first use, kept by a thread, reused when threads end, never
 * more than the maximum. Guest register state that KVM keeps per vCPU (x87/SSE/AVX, fs/gs
 * bases) follows the guest thread (its vext frame), not the vCPU.
 */
@Tag("kvm")
class VcpuPoolTest {
  /**
   * Runs {@code body} on a new platform thread (so on another vCPU) and fails with what it
   * threw: an assertion on that thread must not get lost.
   */
  private static void onAnotherThread(Runnable body) throws InterruptedException {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread t = Thread.ofPlatform().start(() -> {
      try {
        body.run();
      } catch (Throwable e) {
        failure.set(e);
      }
    });
    t.join();
    if (failure.get() != null) {
      throw new AssertionError("on the other thread: " + failure.get(), failure.get());
    }
  }

  @Test
  void manyShortLivedThreadsShareAFewVcpus() throws Exception {
    try (GuestFixture g = new GuestFixture(KvmTests.open(VmspaceOptions.builder().maxVcpus(2).build()))) {
      VmspaceId id = g.space(1);
      long fds = ResourceCycleTest.openFds();
      for (int i = 0; i < 200; i++) {
        AtomicReference<RunResult> r = new AtomicReference<>();
        Thread t = Thread.ofPlatform().start(() -> r.set(g.run(id, at("one_syscall"), new VextFrame())));
        t.join();
        assertThat(r.get()).isEqualTo(RunResult.SYSCALL);
      }
      // At most two vCPUs (two fds each with their kvm_run) were ever created.
      assertThat(ResourceCycleTest.openFds()).isLessThanOrEqualTo(fds + 2);
    }
  }

  @Test
  void moreLiveThreadsThanVcpusTakeTurns() throws Exception {
    try (GuestFixture g = new GuestFixture(KvmTests.open(VmspaceOptions.builder().maxVcpus(2).build()))) {
      VmspaceId id = g.space(1);
      int threads = 6;
      CountDownLatch go = new CountDownLatch(1);
      List<Thread> list = new ArrayList<>();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      for (int t = 0; t < threads; t++) {
        list.add(Thread.ofPlatform().start(() -> {
          try {
            go.await();
            TrapFrame f = at("syscall_loop").rax(0);
            VextFrame x = new VextFrame();
            for (int i = 0; i < 200; i++) {
              assertThat(g.run(id, f, x)).isEqualTo(RunResult.SYSCALL);
              assertThat(f.rdi()).isEqualTo(i);
              f.rax(i + 1);
              // A spin with a timeout holds a vCPU a while, so others must wait or take over.
              if (i % 50 == 0) {
                assertThat(g.vms.run(id, at("spin"), new VextFrame(), Duration.ofMillis(5)))
                    .isEqualTo(RunResult.TIMEOUT);
              }
            }
          } catch (Throwable e) {
            failure.compareAndSet(null, e);
          }
        }));
      }
      go.countDown();
      for (Thread t : list) {
        t.join();
      }
      assertThat(failure.get()).isNull();
    }
  }

  @Test
  void vectorRegistersFollowTheGuestThreadAcrossVcpusAndThreads() throws Exception {
    try (GuestFixture g = new GuestFixture(KvmTests.open(VmspaceOptions.builder().maxVcpus(2).build()))) {
      VmspaceId id = g.space(1);
      // Guest thread A puts a value in xmm0 and stops at a syscall.
      VextFrame ta = new VextFrame();
      TrapFrame fa = at("xmm_roundtrip").rdi(0xA5A5_0000_1111L);
      assertThat(g.run(id, fa, ta)).isEqualTo(RunResult.SYSCALL);
      assertThat(fa.rax()).isEqualTo(5);
      // Guest thread B, on the same vCPU, clobbers xmm0.
      VextFrame tb = new VextFrame();
      TrapFrame fb = at("xmm_roundtrip").rdi(0xB0B0_0000_2222L);
      assertThat(g.run(id, fb, tb)).isEqualTo(RunResult.SYSCALL);
      // A resumes, on another Java thread (so likely another vCPU): its xmm0 is intact.
      onAnotherThread(() -> assertThat(g.run(id, fa, ta)).isEqualTo(RunResult.SYSCALL));
      assertThat(fa.rax()).isEqualTo(6);
      assertThat(fa.rdi()).isEqualTo(0xA5A5_0000_1111L);
      assertThat(g.run(id, fb, tb)).isEqualTo(RunResult.SYSCALL);
      assertThat(fb.rdi()).isEqualTo(0xB0B0_0000_2222L);
      // A new guest thread starts with clean vector registers, not another thread's.
      TrapFrame fc = at("xmm_report").rdi(0x77);
      VextFrame tc = new VextFrame();
      assertThat(g.run(id, fc, tc)).isEqualTo(RunResult.SYSCALL);
      assertThat(fc.rdi()).isZero();
    }
  }

  @Test
  void vectorRegistersLiveInAnIdleVcpuMoveWithTheGuestThread() throws Exception {
    try (GuestFixture g = new GuestFixture(KvmTests.open(VmspaceOptions.builder().maxVcpus(4).build()))) {
      VmspaceId id = g.space(1);
      VextFrame ta = new VextFrame();
      TrapFrame fa = at("xmm_roundtrip").rdi(0x1234_5678_9ABC_DEF0L);
      assertThat(g.run(id, fa, ta)).isEqualTo(RunResult.SYSCALL);
      // The state is still live in this thread's (idle) vCPU; another thread's vCPU needs it.
      onAnotherThread(() -> assertThat(g.run(id, fa, ta)).isEqualTo(RunResult.SYSCALL));
      assertThat(fa.rdi()).isEqualTo(0x1234_5678_9ABC_DEF0L);
    }
  }

  @Test
  void copyVectorStateGivesAForkedThreadTheParentsRegistersAndLeavesThemIndependent() throws Exception {
    try (GuestFixture g = new GuestFixture(KvmTests.open(VmspaceOptions.builder().maxVcpus(2).build()))) {
      VmspaceId id = g.space(1);
      VextFrame parent = new VextFrame();
      TrapFrame fp = at("xmm_roundtrip").rdi(0x0DDB_A11L);
      assertThat(g.run(id, fp, parent)).isEqualTo(RunResult.SYSCALL);
      // The parent's xmm0 is live in this thread's idle vCPU; the child copies it from there.
      VextFrame child = new VextFrame();
      g.vms.copyVectorState(parent, child);
      TrapFrame fc = fp.copy();
      onAnotherThread(() -> {
        assertThat(g.run(id, fc, child)).isEqualTo(RunResult.SYSCALL);
        assertThat(fc.rdi()).isEqualTo(0x0DDB_A11L);
        // The child changes its copy ...
        TrapFrame again = at("xmm_roundtrip").rdi(0x5EED);
        assertThat(g.run(id, again, child)).isEqualTo(RunResult.SYSCALL);
      });
      // ... which the parent does not see.
      assertThat(g.run(id, fp, parent)).isEqualTo(RunResult.SYSCALL);
      assertThat(fp.rdi()).isEqualTo(0x0DDB_A11L);
      assertThatThrownBy(() -> g.vms.copyVectorState(parent, parent))
          .isInstanceOfSatisfying(VmspaceException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
      assertThatThrownBy(() -> g.vms.copyVectorState(null, child))
          .isInstanceOfSatisfying(VmspaceException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
    }
  }

  /**
   * A fork copies the parent's vector state while other threads take over the vCPU it is live
   * in (more live threads than vCPUs): the copy waits for the new holder to save it, as a run
   * does, instead of failing with EBUSY, which musl's pthread_create turned into EAGAIN (issue
   * 16: a thread bomb stopped at 143 threads under --pids=300).
   */
  @Test
  void copyVectorStateWaitsForAVcpuBeingTakenOver() throws Exception {
    try (GuestFixture g = new GuestFixture(KvmTests.open(VmspaceOptions.builder().maxVcpus(2).build()))) {
      VmspaceId id = g.space(1);
      java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      List<Thread> others = new ArrayList<>();
      for (int t = 0; t < 3; t++) {
        others.add(Thread.ofPlatform().start(() -> {
          try {
            VextFrame x = new VextFrame();
            while (!done.get()) {
              assertThat(g.run(id, at("one_syscall"), x)).isEqualTo(RunResult.SYSCALL);
            }
          } catch (Throwable e) {
            failure.compareAndSet(null, e);
          }
        }));
      }
      try {
        VextFrame parent = new VextFrame();
        TrapFrame fp = at("xmm_roundtrip").rdi(0xF0F0L);
        for (int i = 0; i < 2000 && failure.get() == null; i++) {
          assertThat(g.run(id, fp.copy(), parent)).isEqualTo(RunResult.SYSCALL);
          g.vms.copyVectorState(parent, new VextFrame());
        }
      } finally {
        done.set(true);
        for (Thread t : others) {
          t.join();
        }
      }
      assertThat(failure.get()).isNull();
    }
  }

  @Test
  void fsAndGsBasesComeFromTheVextFrame() {
    try (GuestFixture g = new GuestFixture()) {
      VmspaceId id = g.space(1);
      long tls = 0x6100_0000L;
      g.anon(id, tls, 0x2000, 3);
      g.poke(id, tls, 0x1111);
      g.poke(id, tls + 0x1000, 0x2222);
      VextFrame x = new VextFrame().fsBase(tls).gsBase(tls + 0x1000);
      TrapFrame f = at("read_tls");
      assertThat(g.run(id, f, x)).isEqualTo(RunResult.SYSCALL);
      assertThat(f.rdi()).isEqualTo(0x1111);
      assertThat(f.rsi()).isEqualTo(0x2222);
      VextFrame swapped = new VextFrame().fsBase(tls + 0x1000).gsBase(tls);
      TrapFrame f2 = at("read_tls");
      assertThat(g.run(id, f2, swapped)).isEqualTo(RunResult.SYSCALL);
      assertThat(f2.rdi()).isEqualTo(0x2222);
      assertThat(f2.rsi()).isEqualTo(0x1111);
      assertThat(swapped.fsBase()).isEqualTo(tls + 0x1000);
    }
  }
}
