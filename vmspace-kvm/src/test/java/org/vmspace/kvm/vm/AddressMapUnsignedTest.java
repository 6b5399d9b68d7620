package org.vmspace.kvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.vmspace.api.MapFlags;
import org.vmspace.api.Prot;

/**
 * The address map's placement with lengths and hints that are only meaningful as unsigned
 * 64-bit values (issue 16, a hostile caller): a length of 2^63 or more never fits, a hint near
 * 2^64 never wraps to a low address inside another entry, and the map never holds an entry that
 * overlaps another or runs past the user limit.
 */
class AddressMapUnsignedTest {
  private static final long LIMIT = Vmspace.VM_MAX;
  private static final long FLOOR = 0x10000;
  private static final long PAGE = 4096;

  private static VmEntry entry(long start, long end) {
    return new VmEntry(start, end, Prot.of(Prot.PROT_READ), MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON, null, 0);
  }

  /** The map of a small guest: code at 0x400000, data after it and a stack under 0x70000000. */
  private static AddressMap guestLike() {
    AddressMap map = new AddressMap(LIMIT);
    map.insert(entry(0x400000, 0x401000));
    map.insert(entry(0x600000, 0x602000));
    map.insert(entry(0x6fff0000L, 0x70000000L));
    return map;
  }

  @Test
  void lengthsOfTwoToThe63AndMoreNeverFit() {
    AddressMap map = guestLike();
    // Long.MAX_VALUE rounded to pages is 2^63: the mmap, which was placed at 0x10000.
    for (long len : new long[] {1L << 63, Long.MAX_VALUE & ~(PAGE - 1), -PAGE, -(1L << 40), LIMIT + PAGE}) {
      assertThat(map.findSpace(len, 0, FLOOR)).as("len 0x%x", len).isEqualTo(AddressMap.NO_SPACE);
      assertThat(map.findSpace(len, 0x10000000L, FLOOR)).as("len 0x%x with a hint", len).isEqualTo(AddressMap.NO_SPACE);
    }
    assertThat(new AddressMap(LIMIT).findSpace(1L << 63, 0, FLOOR)).isEqualTo(AddressMap.NO_SPACE);
  }

  @Test
  void theWholeUserRangeAboveTheFloorFitsOnlyWhenEmpty() {
    assertThat(new AddressMap(LIMIT).findSpace(LIMIT - FLOOR, 0, FLOOR)).isEqualTo(FLOOR);
    assertThat(new AddressMap(LIMIT).findSpace(LIMIT - FLOOR + PAGE, 0, FLOOR)).isEqualTo(AddressMap.NO_SPACE);
    assertThat(guestLike().findSpace(LIMIT - FLOOR, 0, FLOOR)).isEqualTo(AddressMap.NO_SPACE);
  }

  @Test
  void hintsNearTwoToThe64AndPastTheLimitFindNothing() {
    AddressMap map = guestLike();
    for (long hint : new long[] {-PAGE, 1L << 63, LIMIT, LIMIT - PAGE + 1}) {
      assertThat(map.findSpace(PAGE, hint, FLOOR)).as("hint 0x%x", hint).isEqualTo(AddressMap.NO_SPACE);
    }
    // The last page below the limit is free and is found from a hint just below it.
    assertThat(map.findSpace(PAGE, LIMIT - PAGE, FLOOR)).isEqualTo(LIMIT - PAGE);
  }

  @Test
  void gapsAboveTwoToThe63AreComparedUnsigned() {
    // A map whose limit is 2^64 - 4096 (the whole unsigned range): gaps over 2^63 are negative
    // as Java longs, and the augmentation must still prefer them over small ones.
    long top = -PAGE;
    AddressMap map = new AddressMap(top);
    map.insert(entry(0x1000, 0x2000));
    map.insert(entry(0x4000, 0x5000));
    map.insert(entry(top - 2 * PAGE, top - PAGE));
    map.verify();
    long huge = (1L << 63) + (1L << 62);
    assertThat(map.findSpace(huge, 0, 0)).isEqualTo(0x5000);
    assertThat(map.findSpace(2 * PAGE, 0, 0)).isEqualTo(0x2000);
    assertThat(map.findSpace(-3 * PAGE, 0, 0)).isEqualTo(AddressMap.NO_SPACE);
  }

  @Test
  void verifyRejectsEntriesPastTheLimit() {
    AddressMap map = new AddressMap(0x100000);
    map.insert(entry(0xff000, 0x101000));
    try {
      map.verify();
    } catch (IllegalStateException expected) {
      assertThat(expected).hasMessageContaining("user limit");
      return;
    }
    throw new AssertionError("an entry past the limit passed verify()");
  }

  /**
   * Seeded random placements with boundary lengths and hints, each compared with a linear scan
   * of the gaps done in unsigned arithmetic; what is found is inserted, and the invariants are
   * checked after every step.
   */
  @Test
  void randomPlacementsMatchALinearScan() {
    long seed = Long.getLong("vmspace.addressMapSeed", 0x16_16L);
    Random rnd = new Random(seed);
    AddressMap map = new AddressMap(LIMIT);
    long[] boundary = {0, PAGE, LIMIT - FLOOR, LIMIT, LIMIT + PAGE, 1L << 47, 1L << 62, 1L << 63, -PAGE, -(1L << 47)};
    for (int i = 0; i < 20_000; i++) {
      long len = switch (rnd.nextInt(4)) {
        case 0 -> boundary[rnd.nextInt(boundary.length)];
        case 1 -> rnd.nextLong() & ~(PAGE - 1);
        default -> (1 + rnd.nextInt(64)) * PAGE * (rnd.nextInt(50) == 0 ? 1L << 24 : 1);
      };
      long hint = switch (rnd.nextInt(3)) {
        case 0 -> 0;
        case 1 -> boundary[rnd.nextInt(boundary.length)];
        default -> (rnd.nextLong() & (LIMIT - 1)) & ~(PAGE - 1);
      };
      long found = map.findSpace(len, hint, FLOOR);
      long expected = linear(map, len, hint);
      assertThat(found).as("seed %d step %d: len 0x%x hint 0x%x", seed, i, len, hint).isEqualTo(expected);
      if (found != AddressMap.NO_SPACE) {
        map.insert(entry(found, found + len));
      }
      if (rnd.nextInt(3) == 0 && map.size() > 0) {
        var all = map.entries();
        map.remove(all.get(rnd.nextInt(all.size())));
      }
      map.verify();
    }
  }

  private static long linear(AddressMap map, long len, long hint) {
    long from = Long.compareUnsigned(hint, FLOOR) >= 0 ? hint : FLOOR;
    if (len == 0 || Long.compareUnsigned(len, LIMIT) > 0) {
      return AddressMap.NO_SPACE;
    }
    long prevEnd = 0;
    for (VmEntry e : map.entries()) {
      long at = Long.compareUnsigned(prevEnd, from) >= 0 ? prevEnd : from;
      if (Long.compareUnsigned(at, e.start) <= 0 && Long.compareUnsigned(e.start - at, len) >= 0) {
        return at;
      }
      prevEnd = e.end;
    }
    long at = Long.compareUnsigned(prevEnd, from) >= 0 ? prevEnd : from;
    return Long.compareUnsigned(at, LIMIT) <= 0 && Long.compareUnsigned(LIMIT - at, len) >= 0 ? at : AddressMap.NO_SPACE;
  }
}
