package org.vmspace.kvm.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The frame allocator on host memory, without KVM: every frame handed out reads as zero, whether
 * it comes from the bitmap or from the freed frames kept resident; the limit counts frames in use
 * only; contiguous runs get past kept frames; bad frees change nothing.
 */
class FrameAllocatorTest {
  private static final long MIB = 1L << 20;
  private static final long PAGE = GuestMemory.PAGE;
  private static final long DIRTY = 0x5a5a5a5a5a5a5a5aL;

  private final GuestMemory memory = GuestMemory.create("frame-allocator-test", 2 * MIB);

  @AfterEach
  void close() {
    memory.close();
    System.clearProperty(FrameAllocator.KEPT_PROPERTY);
  }

  @Test
  void aFreedFrameStaysResidentAndIsZeroedWhenHandedOutAgain() {
    FrameAllocator a = new FrameAllocator(memory, 0, 2 * MIB, 2 * MIB, 8);
    long f = a.allocate();
    dirty(f);
    a.free(f);
    assertThat(memory.readLong(f + 8)).as("kept as it was, not discarded").isEqualTo(DIRTY);
    assertThat(a.framesKept()).isEqualTo(1);
    assertThat(a.framesInUse()).isZero();
    assertThat(a.allocate()).as("the kept frame is reused first").isEqualTo(f);
    assertZero(f);
    assertThat(a.framesKept()).isZero();
    assertThat(a.framesInUse()).isEqualTo(1);
  }

  @Test
  void framesPastTheCapacityAreDiscardedAtOnce() {
    FrameAllocator a = new FrameAllocator(memory, 0, 2 * MIB, 2 * MIB, 2);
    long[] f = {a.allocate(), a.allocate(), a.allocate(), a.allocate()};
    for (long frame : f) {
      dirty(frame);
    }
    a.free(f);
    assertThat(a.framesKept()).isEqualTo(2);
    int discarded = 0;
    for (long frame : f) {
      if (memory.readLong(frame + 8) == 0) {
        discarded++;
      }
    }
    assertThat(discarded).isEqualTo(2);
    Set<Long> again = new HashSet<>();
    for (int i = 0; i < 4; i++) {
      long frame = a.allocate();
      assertZero(frame);
      again.add(frame);
    }
    assertThat(again).hasSize(4);
  }

  @Test
  void withoutKeptFramesEveryFreedFrameIsDiscarded() {
    System.setProperty(FrameAllocator.KEPT_PROPERTY, "0");
    FrameAllocator a = new FrameAllocator(memory, 0, 2 * MIB, 2 * MIB);
    assertThat(a.keptCapacity()).isZero();
    long f = a.allocate();
    dirty(f);
    a.free(f);
    assertThat(memory.readLong(f + 8)).isZero();
    assertThat(a.framesKept()).isZero();
  }

  @Test
  void keptFramesAreFreeForTheLimit() {
    FrameAllocator a = new FrameAllocator(memory, 0, 2 * MIB, 64 * PAGE, 64);
    long[] all = new long[64];
    for (int i = 0; i < 64; i++) {
      all[i] = a.allocate();
      dirty(all[i]);
    }
    assertThat(a.allocate()).as("at the limit").isEqualTo(-1);
    a.free(all);
    assertThat(a.framesKept()).isEqualTo(64);
    for (int i = 0; i < 64; i++) {
      long f = a.allocate();
      assertThat(f).isNotNegative();
      assertZero(f);
    }
    assertThat(a.allocate()).isEqualTo(-1);
  }

  @Test
  void aContiguousRunGivesKeptFramesBackWhenTheyAreInTheWay() {
    // 512 frames, all allocated and freed: every one is kept, so the bitmap has no free run.
    FrameAllocator a = new FrameAllocator(memory, 0, 2 * MIB, 2 * MIB, 512);
    long[] all = new long[512];
    for (int i = 0; i < all.length; i++) {
      all[i] = a.allocate();
      dirty(all[i]);
    }
    a.free(all);
    assertThat(a.framesKept()).isEqualTo(512);
    long run = a.allocateContiguous(512);
    assertThat(run).isZero();
    assertThat(a.framesKept()).isZero();
    assertThat(a.framesInUse()).isEqualTo(512);
    for (long f = 0; f < 2 * MIB; f += PAGE) {
      assertZero(f);
    }
  }

  @Test
  void aDoubleFreeOrTheFreeOfAKeptFrameChangesNothing() {
    FrameAllocator a = new FrameAllocator(memory, 0, 2 * MIB, 2 * MIB, 8);
    long f = a.allocate();
    long g = a.allocate();
    assertThatThrownBy(() -> a.free(f, g, f)).isInstanceOf(IllegalArgumentException.class);
    assertThat(a.framesInUse()).isEqualTo(2);
    a.free(f);
    assertThatThrownBy(() -> a.free(f)).as("kept already").isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> a.free(g, f)).isInstanceOf(IllegalArgumentException.class);
    assertThat(a.framesInUse()).isEqualTo(1);
    assertThat(a.framesKept()).isEqualTo(1);
  }

  @Test
  void aNegativeCapacityOrPropertyIsRefused() {
    assertThatThrownBy(() -> new FrameAllocator(memory, 0, 2 * MIB, 2 * MIB, -1))
        .isInstanceOf(IllegalArgumentException.class);
    System.setProperty(FrameAllocator.KEPT_PROPERTY, "-5");
    assertThatThrownBy(FrameAllocator::keptPagesProperty)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(FrameAllocator.KEPT_PROPERTY);
  }

  /**
   * A seeded random mix of single allocations, contiguous runs and frees (in batches, in any
   * order) against a model: no frame is handed out twice, each reads as zero when handed out,
   * the counts match and the limit holds.
   */
  @Test
  void randomAllocationsAndFreesMatchTheModel() {
    for (long seed = 1; seed <= 20; seed++) {
      Random rnd = new Random(seed);
      memory.discard(0, 2 * MIB); // the last seed's frames
      int capacity = rnd.nextInt(3) == 0 ? 0 : rnd.nextInt(200);
      long limit = (64 + rnd.nextInt(448)) * PAGE;
      FrameAllocator a = new FrameAllocator(memory, 0, 2 * MIB, limit, capacity);
      List<Long> held = new ArrayList<>();
      for (int step = 0; step < 2000; step++) {
        int op = rnd.nextInt(11);
        if (op == 10) {
          int count = rnd.nextInt(40);
          long[] out = new long[count + rnd.nextInt(3)];
          int got = a.allocate(out, count);
          assertThat(got).as("seed %d: a bulk allocation short of the limit", seed)
              .isEqualTo((int) Math.min(count, limit / PAGE - held.size()));
          for (int i = 0; i < got; i++) {
            takeFresh(out[i], held, seed);
          }
        } else if (op < 5) {
          long f = a.allocate();
          if (f < 0) {
            assertThat(held).as("seed %d: refused below the limit", seed).hasSize((int) (limit / PAGE));
          } else {
            takeFresh(f, held, seed);
          }
        } else if (op < 6) {
          int count = 1 + rnd.nextInt(16);
          long base = a.allocateContiguous(count);
          if (base >= 0) {
            for (int i = 0; i < count; i++) {
              takeFresh(base + i * PAGE, held, seed);
            }
          } else if (held.size() + count <= limit / PAGE) {
            assertThat(a.framesKept()).as("seed %d: kept frames given back", seed).isZero();
            assertThat(hasFreeRun(held, count)).as("seed %d: a free run of %d refused", seed, count).isFalse();
          }
        } else if (!held.isEmpty()) {
          int n = 1 + rnd.nextInt(Math.min(held.size(), 40));
          long[] batch = new long[n];
          for (int i = 0; i < n; i++) {
            batch[i] = held.remove(rnd.nextInt(held.size()));
          }
          a.free(batch);
        }
        assertThat(a.framesInUse()).isEqualTo(held.size());
        assertThat(a.framesKept()).isBetween(0, capacity);
      }
    }
  }

  /** Whether the model has {@code count} consecutive frames of the 512 that none holds. */
  private static boolean hasFreeRun(List<Long> held, int count) {
    Set<Long> taken = new HashSet<>(held);
    int run = 0;
    for (long f = 0; f < 2 * MIB; f += PAGE) {
      run = taken.contains(f) ? 0 : run + 1;
      if (run == count) {
        return true;
      }
    }
    return false;
  }

  /** Checks a frame just handed out, then dirties it as its holder would. */
  private void takeFresh(long f, List<Long> held, long seed) {
    assertThat(held).as("seed %d: 0x%x handed out twice", seed, f).doesNotContain(f);
    assertZero(f);
    dirty(f);
    held.add(f);
  }

  private void dirty(long frame) {
    for (long o = 0; o < PAGE; o += 8) {
      memory.writeLong(frame + o, DIRTY);
    }
  }

  private void assertZero(long frame) {
    for (long o = 0; o < PAGE; o += 8) {
      assertThat(memory.readLong(frame + o)).as("0x%x + %d", frame, o).isZero();
    }
  }
}
