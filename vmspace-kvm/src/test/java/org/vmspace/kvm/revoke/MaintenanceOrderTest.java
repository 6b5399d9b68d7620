package org.vmspace.kvm.revoke;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.vmspace.kvm.paging.Revocation;

/** The order in which a batch makes its stores: by entry address, and in order for one entry. */
class MaintenanceOrderTest {
  @Test
  void storesGoByAddressAndTheLastStoreToAnEntryStaysLast() {
    Random random = new Random(17);
    for (int round = 0; round < 200; round++) {
      // Below 4 TiB (packed keys), past it and off 8-byte boundaries (the boxed sort).
      long base = switch (round % 3) {
        case 0 -> 1L << 41;
        case 1 -> (1L << 42) - 4 * 4096L;
        default -> 0x1004;
      };
      Revocation r = new Revocation();
      int n = random.nextInt(2000);
      for (int i = 0; i < n; i++) {
        // Few pages and few entries, so that one entry is often stored more than once.
        r.store(base + random.nextInt(8) * 4096L + 8L * random.nextInt(16), i);
      }
      assertOrdered(r, Maintenance.storeOrder(r));
    }
  }

  @Test
  void theHighestPackedAddressAndTheLowestUnpackedOneBothSort() {
    Revocation r = new Revocation();
    r.store(1L << 42, 0);
    r.store((1L << 42) - 8, 1);
    r.store(-8L, 2); // compared unsigned: the highest
    r.store(0, 3);
    assertThat(Maintenance.storeOrder(r)).containsExactly(3, 1, 0, 2);
    Revocation packed = new Revocation();
    packed.store((1L << 42) - 8, 0);
    packed.store(8, 1);
    assertThat(Maintenance.storeOrder(packed)).containsExactly(1, 0);
  }

  private static void assertOrdered(Revocation r, int[] order) {
    int n = r.storeCount();
    assertThat(order).hasSize(n);
    boolean[] seen = new boolean[n];
    for (int k = 0; k < n; k++) {
      int i = order[k];
      assertThat(seen[i]).isFalse();
      seen[i] = true;
      if (k > 0) {
        int prev = order[k - 1];
        int byAddress = Long.compareUnsigned(r.entryGpa(prev), r.entryGpa(i));
        assertThat(byAddress).isLessThanOrEqualTo(0);
        if (byAddress == 0) {
          assertThat(r.value(prev)).isLessThan(r.value(i)); // made earlier, stored earlier
        }
      }
    }
  }
}
