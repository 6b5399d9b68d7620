package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmspace.kvm.testing.GuestFixture.at;
import static org.vmspace.kvm.testing.GuestFixture.sym;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.vmspace.api.Errno;
import org.vmspace.api.MapFlags;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.Prot;
import org.vmspace.api.RunResult;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceService;
import org.vmspace.kvm.service.ServiceInternals;
import org.vmspace.kvm.testing.GuestFixture;
import org.vmspace.kvm.testing.Heartbeat;
import org.vmspace.kvm.testing.KvmTests;

/**
 * Hostile callers racing on the backend (issue 16, "Concurrency"): destroy against run, mmap,
 * munmap, pread and pwrite on one id from several threads; the last {@code close()} of a
 * context while its threads run; interrupts racing with exits.
 *
 * <p>Invariants: every call returns a value or a {@link VmspaceException} with an errno the
 * contract gives for it (docs/api.md), never another exception (a call on a handle already
 * closed is the documented {@link IllegalStateException}); nothing deadlocks (each thread has a
 * bound, and the test's own timeout stands behind it); nothing stale: a guest of a destroyed
 * vmspace never runs again (its heartbeat page stops counting when destroy returns), and a pread
 * after munmap, or on a fresh mapping, never returns data written before; the service works
 * afterwards.
 *
 * <p>Seeded ({@code -Dvmspace.concurrency.seed}); the threads' interleaving is the machine's, so
 * a seed fixes each thread's choices, not the order they meet in. {@code
 * -Dvmspace.concurrency.ops} is the calls per thread (small by default: the emulated machine has
 * one CPU; docs/testing.md).
 */
@Tag("kvm")
class ConcurrencyStressTest {
  private static final long PAGE = 4096;
  private static final int RW = Prot.PROT_READ | Prot.PROT_WRITE;
  private static final int FIXED_ANON = MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON | MapFlags.MAP_FIXED;
  private static final VmspaceId ID = VmspaceId.of(7);
  /** Each mapper thread's own page: nobody else maps there, so its contents are predictable. */
  private static final long DATA = 0x2000_0000L;

  private static final long SEED = Long.getLong("vmspace.concurrency.seed", 0x16_16_16L);
  private static final int OPS = Integer.getInteger("vmspace.concurrency.ops", 120);
  /** How long a thread may take for its calls before the test calls it a deadlock. */
  private static final long BOUND_SECONDS = 120;

  /** Failures seen by any thread; each names the thread, the call and what was wrong. */
  private final Queue<String> failures = new ConcurrentLinkedQueue<>();

  /** One vmspace created under {@link #ID}, with the heartbeat object its guests count into. */
  private static final class Generation {
    final MemoryObject beat;
    long countAtDestroy = -1;

    Generation(MemoryObject beat) {
      this.beat = beat;
    }

    long count() {
      return beat.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
    }
  }

  /** The current generation and every destroyed one, guarded by itself. */
  private final List<Generation> generations = new ArrayList<>();

  private Generation current;

  /** Creates a new generation of {@link #ID}; the caller holds {@link #generations}' lock. */
  private void createGeneration(VmspaceService vms) {
    vms.create(ID);
    GuestFixture.PROGRAM.loadInto(vms, ID);
    vms.mmap(ID, GuestFixture.STACK_TOP - GuestFixture.STACK_SIZE, GuestFixture.STACK_SIZE, RW,
        FIXED_ANON, null, 0);
    MemoryObject beat = vms.createMemoryObject(PAGE);
    vms.mmap(ID, Heartbeat.ADDRESS, PAGE, RW, MapFlags.MAP_SHARED | MapFlags.MAP_FIXED, beat, 0);
    current = new Generation(beat);
    generations.add(current);
  }

  /** A call that may fail with the contract's errnos {@code allowed}; anything else is recorded. */
  private <T> T call(String who, String what, Set<Errno> allowed, java.util.function.Supplier<T> call) {
    try {
      return call.get();
    } catch (VmspaceException e) {
      if (!allowed.contains(e.errno())) {
        failures.add(who + ": " + what + ": unexpected " + e.getMessage());
      }
      return null;
    } catch (Throwable t) {
      failures.add(who + ": " + what + ": threw " + t);
      return null;
    }
  }

  private Thread start(String name, Runnable body) {
    return Thread.ofPlatform()
        .name(name)
        .uncaughtExceptionHandler((t, e) -> failures.add(name + ": died of " + e))
        .start(body);
  }

  private void joinAll(List<Thread> threads) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_SECONDS * KvmTests.timeScale());
    for (Thread t : threads) {
      t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
      if (t.isAlive()) {
        StringBuilder stack = new StringBuilder();
        for (StackTraceElement e : t.getStackTrace()) {
          stack.append("\n    at ").append(e);
        }
        throw new AssertionError(t.getName() + " did not finish: a deadlock or a lost wakeup" + stack);
      }
    }
  }

  private static long read8(VmspaceService vms, VmspaceId id, long addr, long[] into) {
    MemorySegment buf = MemorySegment.ofArray(into);
    into[0] = 0;
    return vms.pread(id, buf, 8, 0, addr);
  }

  /**
   * Two threads destroy (and one re-creates) the id while two run guests on it, two map,
   * write, read and unmap their own pages in it, and one interrupts the runners at random.
   */
  @Test
  void destroyRacesWithRunMmapMunmapPreadAndPwriteOnOneId() throws Exception {
    try (GuestFixture g = new GuestFixture()) {
      VmspaceService vms = g.vms;
      synchronized (generations) {
        createGeneration(vms);
      }
      AtomicLong runs = new AtomicLong();
      AtomicLong ranGuest = new AtomicLong();
      AtomicLong destroyed = new AtomicLong();
      AtomicLong busy = new AtomicLong();
      AtomicLong readBack = new AtomicLong();
      AtomicLong interrupted = new AtomicLong();
      AtomicBoolean runnersDone = new AtomicBoolean();
      List<Thread> runners = new ArrayList<>();
      List<Thread> others = new ArrayList<>();

      for (int r = 0; r < 2; r++) {
        Random rnd = new Random(SEED * 31 + r);
        String who = "runner" + r;
        runners.add(start(who, () -> {
          VextFrame x = new VextFrame();
          // Past OPS runs, on until one run entered the guest (the destroyers may keep the id
          // destroyed at nearly every instant on a loaded host), re-creating the vmspace when
          // it is gone, as the mappers do: the check below must not depend on the host's speed.
          for (int i = 0; i < OPS || (ranGuest.get() == 0 && i < 20 * OPS); i++) {
            if (i >= OPS) {
              synchronized (generations) {
                if (current == null) {
                  call(who, "create", EnumSet.noneOf(Errno.class), () -> {
                    createGeneration(vms);
                    return null;
                  });
                }
              }
            }
            TrapFrame f = rnd.nextBoolean() ? at("one_syscall")
                : at("spin_beat").rax(0).rcx(Heartbeat.ADDRESS);
            long startRip = f.rip();
            Duration timeout = Duration.ofMillis(1 + rnd.nextInt(10));
            RunResult res = call(who, "run", EnumSet.of(Errno.ENOENT), () -> vms.run(ID, f, x, timeout));
            runs.incrementAndGet();
            if (res == RunResult.INTERRUPTED) {
              interrupted.incrementAndGet();
            }
            if (res != null && f.rip() != startRip) {
              ranGuest.incrementAndGet();
            }
            pause(rnd);
          }
        }));
      }
      for (int d = 0; d < 2; d++) {
        Random rnd = new Random(SEED * 37 + d);
        String who = "destroyer" + d;
        boolean recreates = d == 0;
        others.add(start(who, () -> {
          // Until the runners are done (and at least OPS times): two runners back to back
          // would otherwise hold a reference at nearly every instant on one emulated CPU.
          for (int i = 0; i < OPS || !runnersDone.get(); i++) {
            synchronized (generations) {
              Boolean ok = call(who, "destroy", EnumSet.of(Errno.ENOENT, Errno.EBUSY), () -> {
                try {
                  vms.destroy(ID);
                  return true;
                } catch (VmspaceException e) {
                  if (e.errno() == Errno.EBUSY) {
                    busy.incrementAndGet();
                  }
                  throw e;
                }
              });
              if (ok != null && current == null) {
                failures.add(who + ": destroyed a vmspace whose creation had failed");
              } else if (ok != null) {
                destroyed.incrementAndGet();
                // No run of this vmspace is in progress (destroy succeeded): its heartbeat
                // must never move again.
                current.countAtDestroy = current.count();
                current = null;
              }
              if (recreates && current == null && rnd.nextInt(3) != 0) {
                call(who, "create", EnumSet.noneOf(Errno.class), () -> {
                  createGeneration(vms);
                  return null;
                });
              }
            }
            pause(rnd);
          }
        }));
      }
      for (int m = 0; m < 2; m++) {
        Random rnd = new Random(SEED * 41 + m);
        String who = "mapper" + m;
        long addr = DATA + m * 0x10000L;
        others.add(start(who, () -> {
          Set<Errno> gone = EnumSet.of(Errno.ENOENT);
          long[] word = new long[1];
          // Past OPS calls, on until one pwrite/pread round trip came through (two destroyers
          // may leave the id destroyed most of the time, more so on a loaded host), re-creating
          // the vmspace when it is gone: the check below must not depend on the host's speed.
          for (int i = 0; i < OPS || (readBack.get() == 0 && i < 20 * OPS); i++) {
            if (i >= OPS) {
              synchronized (generations) {
                if (current == null) {
                  call(who, "create", EnumSet.noneOf(Errno.class), () -> {
                    createGeneration(vms);
                    return null;
                  });
                }
              }
            }
            long token = rnd.nextLong() | 1;
            Long at = call(who, "mmap", gone, () -> vms.mmap(ID, addr, PAGE, RW, FIXED_ANON, null, 0));
            if (at != null && at != addr) {
              failures.add(who + ": mmap MAP_FIXED at 0x" + Long.toHexString(addr) + " returned 0x" + Long.toHexString(at));
            }
            Long n = call(who, "pread fresh", gone, () -> read8(vms, ID, addr, word));
            if (n != null && n == 8 && word[0] != 0) {
              failures.add(who + ": a fresh mapping read 0x" + Long.toHexString(word[0]) + ", data written before");
            }
            Long w = call(who, "pwrite", gone, () ->
                vms.pwrite(ID, MemorySegment.ofArray(new long[] {token}), 8, 0, addr));
            n = call(who, "pread", gone, () -> read8(vms, ID, addr, word));
            if (n != null && n == 8) {
              if (w == null || w != 8 || word[0] != token) {
                failures.add(who + ": pread after pwrite (" + w + ") read 0x" + Long.toHexString(word[0]));
              } else {
                readBack.incrementAndGet();
              }
            }
            // EINVAL: the vmspace was destroyed and re-created since the mmap, so the range
            // is not mapped in the one munmap finds.
            call(who, "munmap", EnumSet.of(Errno.ENOENT, Errno.EINVAL), () -> {
              vms.munmap(ID, addr, PAGE);
              return null;
            });
            n = call(who, "pread after munmap", gone, () -> read8(vms, ID, addr, word));
            if (n != null && n != 0) {
              failures.add(who + ": pread after munmap returned " + n + " bytes: 0x" + Long.toHexString(word[0]));
            }
            pause(rnd);
          }
        }));
      }
      Random irnd = new Random(SEED * 43);
      others.add(start("interrupter", () -> {
        while (!runnersDone.get()) {
          Thread target = runners.get(irnd.nextInt(runners.size()));
          call("interrupter", "interrupt", EnumSet.noneOf(Errno.class), () -> {
            vms.interrupt(target);
            return null;
          });
          try {
            Thread.sleep(irnd.nextInt(3));
          } catch (InterruptedException e) {
            return;
          }
        }
      }));

      try {
        joinAll(runners);
      } finally {
        runnersDone.set(true);
      }
      joinAll(others);
      System.out.printf(
          "destroy race: %d ops per thread, 7 threads, %d runs (%d entered the guest, %d interrupted),"
              + " %d destroys, %d EBUSY, %d generations, %d read-backs%n",
          OPS, runs.get(), ranGuest.get(), interrupted.get(), destroyed.get(), busy.get(),
          generations.size(), readBack.get());
      assertThat(failures).isEmpty();

      // Nothing stale: no guest of a destroyed generation ran after its destroy returned.
      synchronized (generations) {
        for (Generation gen : generations) {
          if (gen != current) {
            assertThat(gen.count()).as("heartbeat of a destroyed vmspace").isEqualTo(gen.countAtDestroy);
          }
          gen.beat.close();
        }
      }
      // Every kind of race happened, or the test proved nothing.
      assertThat(destroyed.get()).as("successful destroys").isPositive();
      assertThat(busy.get() + destroyed.get()).isPositive();
      assertThat(ranGuest.get()).as("runs that entered the guest").isPositive();
      assertThat(readBack.get()).as("pwrite/pread round trips").isPositive();
      stillUsable(vms);
    }
  }

  /** Half the time, gives the other threads a moment (0-2 ms) before the next call. */
  private static void pause(Random rnd) {
    if (rnd.nextBoolean()) {
      try {
        Thread.sleep(rnd.nextInt(3));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** The service works after the storm: a fresh vmspace runs, its address map is sound. */
  private static void stillUsable(VmspaceService vms) {
    try {
      vms.destroy(ID);
    } catch (VmspaceException e) {
      assertThat(e.errno()).isEqualTo(Errno.ENOENT);
    }
    GuestFixture g = new GuestFixture(vms);
    VmspaceId fresh = g.space(99);
    TrapFrame f = at("one_syscall");
    // Only the runner threads were ever interrupted, so this run has no interrupt pending.
    assertThat(vms.run(fresh, f, new VextFrame())).isEqualTo(RunResult.SYSCALL);
    assertThat(ServiceInternals.verifyAddressMap(vms, fresh)).isTrue();
    vms.destroy(fresh);
  }

  /**
   * A runner thread hammered by interrupts while its guest makes one system call per run: each
   * run returns SYSCALL (the guest ran to its syscall) or INTERRUPTED (it did not start, or
   * stopped, where it was); afterwards at most one interrupt is left pending (they do not
   * accumulate) and the next run after it completes.
   */
  @Test
  void interruptsRaceWithExits() throws Exception {
    try (GuestFixture g = new GuestFixture()) {
      VmspaceId id = g.space(1);
      AtomicBoolean done = new AtomicBoolean();
      AtomicLong sent = new AtomicLong();
      Thread runner = Thread.currentThread();
      Random rnd = new Random(SEED * 47);
      Thread interrupter = start("interrupter", () -> {
        while (!done.get()) {
          call("interrupter", "interrupt", EnumSet.noneOf(Errno.class), () -> {
            g.vms.interrupt(runner);
            return null;
          });
          sent.incrementAndGet();
          if (rnd.nextBoolean()) {
            Thread.onSpinWait();
          } else {
            Thread.yield();
          }
        }
      });
      VextFrame x = new VextFrame();
      long syscalls = 0;
      long interrupts = 0;
      try {
        for (int i = 0; i < OPS * 4; i++) {
          TrapFrame f = at("one_syscall");
          RunResult r = call("runner", "run", EnumSet.noneOf(Errno.class), () -> g.vms.run(id, f, x));
          if (r == RunResult.SYSCALL) {
            syscalls++;
            if (f.rip() != sym("one_syscall") + 2) {
              failures.add("SYSCALL with rip 0x" + Long.toHexString(f.rip()));
            }
          } else if (r == RunResult.INTERRUPTED) {
            interrupts++;
            if (f.rip() != sym("one_syscall") || f.trapno() != 0) {
              failures.add("INTERRUPTED with rip 0x" + Long.toHexString(f.rip()) + " trapno " + f.trapno());
            }
          } else if (r != null) {
            failures.add("run returned " + r);
          }
        }
      } finally {
        done.set(true);
        joinAll(List.of(interrupter));
      }
      assertThat(failures).isEmpty();
      // At most one interrupt is pending now: the second run after the storm completes.
      RunResult first = g.vms.run(id, at("one_syscall"), x);
      if (first == RunResult.INTERRUPTED) {
        assertThat(g.vms.run(id, at("one_syscall"), x)).isEqualTo(RunResult.SYSCALL);
      } else {
        assertThat(first).isEqualTo(RunResult.SYSCALL);
      }
      assertThat(syscalls + interrupts).isEqualTo(OPS * 4L);
      System.out.printf("interrupt race: %d runs, %d SYSCALL, %d INTERRUPTED, %d interrupts sent%n",
          OPS * 4, syscalls, interrupts, sent.get());
    }
  }

  /**
   * The last {@code close()} of a context while its threads run guests, map and read memory and
   * create and destroy vmspaces: every thread's calls end, each with a value, a contract errno
   * or, once the close has begun, the closed handle's {@link IllegalStateException}; no thread
   * hangs; descriptors and threads come back; a new service works.
   */
  @Test
  void closingAContextWhileItsThreadsRun() throws Exception {
    int rounds = Math.max(1, OPS / 40);
    long fdsBefore = ResourceCycleTest.openFds();
    long threadsBefore = ResourceCycleTest.threads();
    for (int round = 0; round < rounds; round++) {
      Random rnd = new Random(SEED * 53 + round);
      GuestFixture g = new GuestFixture();
      VmspaceService vms = g.vms;
      AtomicBoolean closing = new AtomicBoolean();
      List<Heartbeat> beats = new ArrayList<>();
      List<VmspaceId> ids = new ArrayList<>();
      for (int i = 1; i <= 2; i++) {
        VmspaceId id = g.space(i);
        ids.add(id);
        beats.add(new Heartbeat(vms, id));
      }
      List<Thread> threads = new ArrayList<>();
      AtomicBoolean[] ended = {new AtomicBoolean(), new AtomicBoolean()};
      for (int r = 0; r < 2; r++) {
        VmspaceId id = ids.get(r);
        AtomicBoolean end = ended[r];
        String who = "runner" + r;
        threads.add(start(who, () -> {
          VextFrame x = new VextFrame();
          try {
            while (true) {
              TrapFrame f = at("spin_beat").rax(0).rcx(Heartbeat.ADDRESS);
              RunResult[] res = new RunResult[1];
              if (closedHandle(who, closing, () -> res[0] = vms.run(id, f, x, Duration.ofSeconds(30)))) {
                return;
              }
              if (res[0] == RunResult.TIMEOUT) {
                // The guest spins forever: only the close could have stopped this run.
                failures.add(who + ": a run went on for 30 s" + (closing.get() ? " after close() began" : ""));
                return;
              }
            }
          } finally {
            end.set(true);
          }
        }));
      }
      long[] word = new long[1];
      threads.add(start("mapper", () -> {
        long addr = DATA;
        while (true) {
          if (closedHandle("mapper", closing, () -> vms.mmap(ids.get(1), addr, PAGE, RW, FIXED_ANON, null, 0))
              || closedHandle("mapper", closing, () -> vms.pwrite(ids.get(1), MemorySegment.ofArray(new long[] {5}), 8, 0, addr))
              || closedHandle("mapper", closing, () -> read8(vms, ids.get(1), addr, word))
              || closedHandle("mapper", closing, () -> {
                vms.munmap(ids.get(1), addr, PAGE);
                return null;
              })) {
            return;
          }
        }
      }));
      threads.add(start("creator", () -> {
        VmspaceId id = VmspaceId.of(50 + rnd.nextInt(4));
        while (true) {
          if (closedHandle("creator", closing, () -> {
                vms.create(id);
                return null;
              })
              || closedHandle("creator", closing, () -> {
                vms.destroy(id);
                return null;
              })) {
            return;
          }
        }
      }));
      // Close once both guests are running (their heartbeats move), not after a fixed time.
      for (int r = 0; r < 2; r++) {
        assertThat(beats.get(r).await(1, ended[r]::get)).as("guest %d ran", r).isTrue();
      }
      closing.set(true);
      vms.close();
      joinAll(threads);
      assertThat(failures).as("round %d", round).isEmpty();
    }
    System.gc();
    assertThat(ResourceCycleTest.openFds()).as("open fds").isLessThanOrEqualTo(fdsBefore + 2);
    assertThat(ResourceCycleTest.threads()).as("threads").isLessThanOrEqualTo(threadsBefore + 2);
    System.out.printf("close race: %d rounds of close() under 2 runners, a mapper and a creator%n", rounds);
    try (GuestFixture g = new GuestFixture()) {
      stillUsable(g.vms);
    }
  }

  /**
   * Makes one call of a thread racing with close: false to go on, true once the handle is
   * closed. Results and the contract's errnos for a vmspace that the close destroyed (ENOENT;
   * EEXIST and EBUSY from the creator's own races; EINVAL for a munmap of a range a destroy
   * took) are fine; an {@link IllegalStateException} is fine once the close has begun.
   */
  private boolean closedHandle(String who, AtomicBoolean closing, java.util.function.Supplier<?> call) {
    try {
      call.get();
      return false;
    } catch (VmspaceException e) {
      if (!EnumSet.of(Errno.ENOENT, Errno.EEXIST, Errno.EBUSY, Errno.EINVAL).contains(e.errno())) {
        failures.add(who + ": unexpected " + e.getMessage() + (closing.get() ? " (during close)" : ""));
        return true;
      }
      return false;
    } catch (IllegalStateException e) {
      if (!closing.get()) {
        failures.add(who + ": IllegalStateException before close: " + e);
      }
      return true;
    } catch (Throwable t) {
      failures.add(who + ": threw " + t + (closing.get() ? " (during close)" : ""));
      return true;
    }
  }
}
