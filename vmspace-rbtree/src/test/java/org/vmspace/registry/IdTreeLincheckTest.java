package org.vmspace.registry;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.jetbrains.lincheck.datastructures.Validate;
import org.junit.jupiter.api.Test;

/**
 * Lincheck (issue 16) on the id tree behind {@link IdRegistry}: lock-free lookups ({@code
 * RbTree.findRacy} under an optimistic stamp) racing with insertions and removals that rotate
 * the red-black tree, over ids at the unsigned extremes (1, 2, 2^63 - 1, 2^63, 2^64 - 2, 2^64 -
 * 1), checked against a sorted set ordered as unsigned. A lookup must never miss an id that is
 * there throughout, nor find one that is not.
 *
 * <p>Destroy retries while a concurrent lookup's reference makes it {@code BUSY} (a vmspace
 * destroy that would otherwise fail with EBUSY), so that it is a plain removal here; the
 * reference rules themselves are {@link IdRegistryLincheckTest}'s.
 */
@Param(name = "key", gen = IntGen.class, conf = "0:5")
public class IdTreeLincheckTest {
  /** The ids the keys name: two small ones and four where signed and unsigned order differ. */
  static final long[] IDS = {1, 2, Long.MAX_VALUE, Long.MIN_VALUE, -2, -1};

  private final IdRegistry<Long> registry = new IdRegistry<>(v -> { });

  /** An empty registry (Lincheck creates one per invocation). */
  public IdTreeLincheckTest() {}

  /** Registers the id of {@code key}; whether it was absent. */
  @Operation
  public boolean create(@Param(name = "key") int key) {
    return registry.register(IDS[key], IDS[key]);
  }

  /** Removes the id of {@code key}; whether it was present. */
  @Operation
  public boolean destroy(@Param(name = "key") int key) {
    while (true) {
      switch (registry.remove(IDS[key])) {
        case REMOVED -> {
          return true;
        }
        case NOT_FOUND -> {
          return false;
        }
        case BUSY -> Thread.onSpinWait();
      }
    }
  }

  /** Looks the id up (a call's acquire and release); whether it is there. */
  @Operation
  public boolean lookup(@Param(name = "key") int key) {
    Entry<Long> e = registry.acquire(IDS[key]);
    if (e == null) {
      return false;
    }
    try {
      if (e.id() != IDS[key] || e.value() != IDS[key]) {
        throw new IllegalStateException("lookup of " + Long.toHexString(IDS[key]) + " found " + e);
      }
      return true;
    } finally {
      e.release();
    }
  }

  /** The ids, in unsigned order. */
  @Operation
  public List<Long> ids() {
    return registry.ids();
  }

  /** The tree's red-black and ordering invariants after each invocation. */
  @Validate
  public void validate() {
    registry.verify();
  }

  @Test
  void modelChecking() {
    new ModelCheckingOptions()
        .iterations(Integer.getInteger("vmspace.lincheck.iterations", 2))
        .invocationsPerIteration(Integer.getInteger("vmspace.lincheck.invocations", 50))
        .threads(3)
        .actorsPerThread(3)
        .actorsBefore(4)
        .actorsAfter(1)
        .sequentialSpecification(Model.class)
        .check(IdTreeLincheckTest.class);
  }

  @Test
  void stress() {
    new StressOptions()
        .iterations(Integer.getInteger("vmspace.lincheck.iterations", 2))
        .invocationsPerIteration(Integer.getInteger("vmspace.lincheck.invocations", 50))
        .threads(3)
        .actorsPerThread(4)
        .actorsBefore(4)
        .actorsAfter(1)
        .sequentialSpecification(Model.class)
        .check(IdTreeLincheckTest.class);
  }

  /** The sequential specification: a set of ids in unsigned order. */
  public static class Model {
    private final TreeSet<Long> ids = new TreeSet<>(Long::compareUnsigned);

    /** An empty set. */
    public Model() {}

    public boolean create(int key) {
      return ids.add(IDS[key]);
    }

    public boolean destroy(int key) {
      return ids.remove(IDS[key]);
    }

    public boolean lookup(int key) {
      return ids.contains(IDS[key]);
    }

    public List<Long> ids() {
      return new ArrayList<>(ids);
    }
  }
}
