package org.vmspace.rbtree;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The augmentation an address map uses: each node keeps the free gap before it and the largest
 * such gap in its subtree, so that a first-fit placement descends in O(log n). Random
 * insertions and removals of intervals, with first-fit searches compared against a linear scan
 * and every gap compared against a brute-force recomputation.
 */
class GapTreePropertyTest {
  private static final long LIMIT = 1L << 24;
  /** The window's start: its middle is 2^63, negative as a Java long. */
  private static final long BASE = Long.MIN_VALUE - (LIMIT / 2);

  /** A half-open interval [start, end) with its gap augmentation. */
  static final class Interval extends RbNode<Interval> {
    final long start;
    final long end;
    long gapBefore;
    long maxGap;

    Interval(long start, long end) {
      this.start = start;
      this.end = end;
    }

    @Override
    public String toString() {
      return "[" + start + "," + end + ") gap=" + gapBefore + " max=" + maxGap;
    }
  }

  static final RbTree.Augmenter<Interval> MAX_GAP =
      n -> {
        long m = n.gapBefore;
        if (n.left() != null && Long.compareUnsigned(n.left().maxGap, m) > 0) {
          m = n.left().maxGap;
        }
        if (n.right() != null && Long.compareUnsigned(n.right().maxGap, m) > 0) {
          m = n.right().maxGap;
        }
        boolean changed = m != n.maxGap;
        n.maxGap = m;
        return changed;
      };

  private final RbTree<Interval> tree =
      new RbTree<>((a, b) -> Long.compareUnsigned(a.start, b.start), MAX_GAP);

  private void add(Interval n) {
    Interval prev = tree.pfind(x -> Long.compareUnsigned(n.start, x.start));
    n.gapBefore = n.start - (prev == null ? BASE : prev.end);
    assertThat(tree.insert(n)).isNull();
    Interval next = tree.next(n);
    if (next != null) {
      next.gapBefore = next.start - n.end;
      tree.updateAugmentation(next);
    }
  }

  private void delete(Interval n) {
    Interval prev = tree.prev(n);
    Interval next = tree.next(n);
    tree.remove(n);
    if (next != null) {
      next.gapBefore = next.start - (prev == null ? BASE : prev.end);
      tree.updateAugmentation(next);
    }
  }

  /** The lowest address >= hint where len bytes fit before some node, by augmented descent. */
  private long firstFit(Interval n, long len, long hint) {
    if (n == null || Long.compareUnsigned(n.maxGap, len) < 0) {
      return -1;
    }
    if (n.left() != null && Long.compareUnsigned(hint, n.start) < 0) {
      long r = firstFit(n.left(), len, hint);
      if (r != -1) {
        return r;
      }
    }
    long gapStart = n.start - n.gapBefore;
    long at = Long.compareUnsigned(gapStart, hint) >= 0 ? gapStart : hint;
    if (Long.compareUnsigned(at, n.start) <= 0 && Long.compareUnsigned(n.start - at, len) >= 0) {
      return at;
    }
    return firstFit(n.right(), len, hint);
  }

  private long firstFitLinear(long len, long hint) {
    long prevEnd = BASE;
    for (Interval n : tree) {
      long at = Long.compareUnsigned(prevEnd, hint) >= 0 ? prevEnd : hint;
      if (Long.compareUnsigned(at, n.start) <= 0 && Long.compareUnsigned(n.start - at, len) >= 0) {
        return at;
      }
      prevEnd = n.end;
    }
    return -1;
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {7, 99, 123456789})
  void gapsMatchBruteForce(long seed) {
    RandomGenerator rnd = RandomGeneratorFactory.of("L64X128MixRandom").create(seed);
    List<Interval> live = new ArrayList<>();
    for (int op = 0; op < 150_000; op++) {
      String at = "seed " + seed + " op " + op;
      int kind = rnd.nextInt(100);
      long len = 1 + rnd.nextLong(rnd.nextBoolean() ? 64 : 4096);
      long hint = BASE + (rnd.nextInt(4) == 0 ? rnd.nextLong(LIMIT) : 0);
      long expected = firstFitLinear(len, hint);
      long found = firstFit(tree.root(), len, hint);
      assertThat(found).as(at + " len " + len + " hint " + hint).isEqualTo(expected);
      if (kind < 55 && live.size() < 3000) {
        // Place a new interval at the first fit (or after the last one), like a non-fixed mmap.
        long start = expected;
        if (start == -1) {
          Interval last = tree.last();
          long lastEnd = last == null ? BASE : last.end;
          start = Long.compareUnsigned(lastEnd, hint) >= 0 ? lastEnd : hint;
        }
        if (Long.compareUnsigned(start - BASE, LIMIT - len) <= 0) {
          Interval n = new Interval(start, start + len);
          add(n);
          live.add(n);
        }
      } else if (!live.isEmpty()) {
        Interval n = live.remove(rnd.nextInt(live.size()));
        delete(n);
      }
      if (op % 500 == 0) {
        tree.verify();
        long prevEnd = BASE;
        for (Interval n : tree) {
          assertThat(n.gapBefore).as(at + " " + n).isEqualTo(n.start - prevEnd);
          assertThat(Long.compareUnsigned(n.start, prevEnd)).as(at).isGreaterThanOrEqualTo(0);
          prevEnd = n.end;
        }
      }
    }
    tree.verify();
  }
}
