package org.vmspace.registry;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Lookups, runs (an active reference held for a while) and holds on several threads while other
 * threads destroy and re-create the same ids. At the end every value ever registered has been
 * released exactly once, never while in use, and every reference is accounted for.
 */
class IdRegistryConcurrencyTest {
  private static final int IDS = 24;

  /** A registered value that checks it is not used after release or released twice. */
  static final class Token {
    final long id;
    final AtomicInteger inUse = new AtomicInteger();
    final AtomicInteger releases = new AtomicInteger();

    Token(long id) {
      this.id = id;
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3})
  void noLostEntryNoDoubleReleaseEveryRefAccountedFor(long seed) throws Exception {
    Queue<Token> created = new ConcurrentLinkedQueue<>();
    Queue<String> failures = new ConcurrentLinkedQueue<>();
    AtomicLong releasedCount = new AtomicLong();
    IdRegistry<Token> registry =
        new IdRegistry<>(
            t -> {
              if (t.releases.incrementAndGet() != 1) {
                failures.add("double release of " + t.id);
              }
              if (t.inUse.get() != 0) {
                failures.add("release while in use: " + t.id);
              }
              releasedCount.incrementAndGet();
            });
    for (long id = 1; id <= IDS; id++) {
      Token t = new Token(id);
      created.add(t);
      registry.register(id, t);
    }

    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong lookups = new AtomicLong();
    AtomicLong hits = new AtomicLong();
    AtomicLong removals = new AtomicLong();
    AtomicLong busy = new AtomicLong();
    int runners = 4;
    int destroyers = 2;
    CountDownLatch done = new CountDownLatch(runners + destroyers);
    List<Thread> threads = new ArrayList<>();
    for (int r = 0; r < runners; r++) {
      RandomGenerator rnd = RandomGeneratorFactory.of("L64X128MixRandom").create(seed * 100 + r);
      threads.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    try {
                      List<Entry<Token>> held = new ArrayList<>();
                      while (!stop.get()) {
                        long id = 1 + rnd.nextInt(IDS);
                        lookups.incrementAndGet();
                        Entry<Token> e = registry.acquire(id);
                        if (e == null) {
                          continue;
                        }
                        hits.incrementAndGet();
                        Token t = e.value();
                        if (t.id != id || e.id() != id) {
                          failures.add("lookup of " + id + " returned " + t.id);
                        }
                        t.inUse.incrementAndGet();
                        if (t.releases.get() != 0) {
                          failures.add("use after release: " + id);
                        }
                        // "Run" for a moment with the reference held.
                        for (int spin = rnd.nextInt(200); spin > 0; spin--) {
                          Thread.onSpinWait();
                        }
                        if (rnd.nextInt(8) == 0) {
                          held.add(e.hold());
                        }
                        t.inUse.decrementAndGet();
                        e.release();
                        if (!held.isEmpty() && rnd.nextInt(4) == 0) {
                          held.remove(rnd.nextInt(held.size())).unhold();
                        }
                      }
                      held.forEach(Entry::unhold);
                    } catch (Throwable t) {
                      failures.add("runner: " + t);
                    } finally {
                      done.countDown();
                    }
                  }));
    }
    for (int d = 0; d < destroyers; d++) {
      RandomGenerator rnd = RandomGeneratorFactory.of("L64X128MixRandom").create(seed * 1000 + d);
      threads.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    try {
                      while (!stop.get()) {
                        long id = 1 + rnd.nextInt(IDS);
                        switch (registry.remove(id)) {
                          case REMOVED -> removals.incrementAndGet();
                          case BUSY -> busy.incrementAndGet();
                          case NOT_FOUND -> { }
                        }
                        // Re-create it (a concurrent destroyer may have done so already).
                        Token t = new Token(id);
                        if (registry.register(id, t)) {
                          created.add(t);
                        }
                      }
                    } catch (Throwable t) {
                      failures.add("destroyer: " + t);
                    } finally {
                      done.countDown();
                    }
                  }));
    }
    Thread.sleep(1500);
    stop.set(true);
    assertThat(done.await(30, TimeUnit.SECONDS)).isTrue();
    for (Thread t : threads) {
      t.join();
    }
    assertThat(failures).isEmpty();
    registry.verify();

    // Every id is present exactly once and unreferenced; nothing else is live.
    assertThat(registry.ids()).hasSize(IDS);
    long live = created.stream().filter(t -> t.releases.get() == 0).count();
    assertThat(live).isEqualTo(IDS);
    for (long id = 1; id <= IDS; id++) {
      Entry<Token> e = registry.acquire(id);
      assertThat(e.activeRefs()).isEqualTo(1);
      assertThat(e.holds()).isZero();
      e.release();
    }
    assertThat(registry.releaseContext()).isTrue();
    assertThat(failures).isEmpty();
    assertThat(created).allMatch(t -> t.releases.get() == 1 && t.inUse.get() == 0);
    assertThat(releasedCount.get()).isEqualTo(created.size());
    assertThat(hits.get()).isPositive();
    assertThat(removals.get()).isPositive();
    assertThat(busy.get()).as("destroys that met a running thread").isPositive();
    assertThat(lookups.get()).isGreaterThan(hits.get());
  }
}
