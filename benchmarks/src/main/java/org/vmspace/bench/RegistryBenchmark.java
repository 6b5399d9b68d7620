package org.vmspace.bench;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;
import org.vmspace.registry.Entry;
import org.vmspace.registry.IdRegistry;

/**
 * The cost of the call prologue every vmspace call pays: look the id up, take an active
 * reference, give it back. Ours ({@link IdRegistry}) against a {@link ConcurrentHashMap} of
 * entries with the same reference discipline (a CAS that refuses deleted entries).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@State(Scope.Benchmark)
public class RegistryBenchmark {
  @Param({"64"})
  int ids;

  private IdRegistry<Object> registry;
  private ConcurrentHashMap<Long, BaselineEntry> map;

  /** The baseline's entry: an active count with a DELETED flag, changed by CAS. */
  static final class BaselineEntry {
    static final int DELETED = 1 << 30;
    final AtomicInteger refs = new AtomicInteger();
    final Object value = new Object();

    boolean tryAcquire() {
      int r;
      do {
        r = refs.get();
        if ((r & DELETED) != 0) {
          return false;
        }
      } while (!refs.compareAndSet(r, r + 1));
      return true;
    }

    void release() {
      refs.decrementAndGet();
    }
  }

  @Setup(Level.Trial)
  public void setUp() {
    registry = new IdRegistry<>(v -> { });
    map = new ConcurrentHashMap<>();
    for (long id = 1; id <= ids; id++) {
      registry.register(id * 0x9E3779B97F4A7C15L, new Object());
      map.put(id * 0x9E3779B97F4A7C15L, new BaselineEntry());
    }
  }

  /** Per-thread id cursor, so threads do not share a counter. */
  @State(Scope.Thread)
  public static class Cursor {
    long next = 1;

    long id(int ids) {
      long id = next * 0x9E3779B97F4A7C15L;
      next = next == ids ? 1 : next + 1;
      return id;
    }
  }

  @Benchmark
  @Threads(1)
  public void registry1(Cursor c, Blackhole bh) {
    lookupOurs(c, bh);
  }

  @Benchmark
  @Threads(2)
  public void registry2(Cursor c, Blackhole bh) {
    lookupOurs(c, bh);
  }

  @Benchmark
  @Threads(1)
  public void baseline1(Cursor c, Blackhole bh) {
    lookupBaseline(c, bh);
  }

  @Benchmark
  @Threads(2)
  public void baseline2(Cursor c, Blackhole bh) {
    lookupBaseline(c, bh);
  }

  private void lookupOurs(Cursor c, Blackhole bh) {
    Entry<Object> e = registry.acquire(c.id(ids));
    bh.consume(e.value());
    e.release();
  }

  private void lookupBaseline(Cursor c, Blackhole bh) {
    BaselineEntry e = map.get(c.id(ids));
    if (e != null && e.tryAcquire()) {
      bh.consume(e.value);
      e.release();
    }
  }
}
