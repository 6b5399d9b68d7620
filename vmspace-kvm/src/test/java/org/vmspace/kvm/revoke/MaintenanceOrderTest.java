package org.vmspace.kvm.revoke;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.vmspace.kvm.paging.Revocation;

/** The order in which a batch makes its stores: by entry address, and in order for one entry. */
class MaintenanceOrderTest {
  @Test
  void storesGoByAddressAndTheLastStoreToAnEntryStaysLast() {
    Random random = new Random(17);
    for (int round = 0; round < 200; round++) {
      Revocation r = new Revocation();
      int n = random.nextInt(2000);
      for (int i = 0; i < n; i++) {
        // Few pages and few entries, so that one entry is often stored more than once.
        long gpa = (random.nextInt(8) * 4096L + 8L * random.nextInt(16)) + (1L << 41);
        r.store(gpa, i);
      }
      long[] order = Maintenance.storeOrder(r);
      assertThat(order).hasSize(n);
      boolean[] seen = new boolean[n];
      for (int k = 0; k < n; k++) {
        int i = (int) (order[k] & 0xFF_FFFF);
        assertThat(seen[i]).isFalse();
        seen[i] = true;
        if (k > 0) {
          int prev = (int) (order[k - 1] & 0xFF_FFFF);
          int byAddress = Long.compareUnsigned(r.entryGpa(prev), r.entryGpa(i));
          assertThat(byAddress).isLessThanOrEqualTo(0);
          if (byAddress == 0) {
            assertThat(r.value(prev)).isLessThan(r.value(i)); // made earlier, stored earlier
          }
        }
      }
    }
  }

  @Test
  void anAddressThatIsNoEntryOfGuestMemoryIsRefused() {
    Revocation misaligned = new Revocation();
    misaligned.store(0x1004, 0);
    assertThatThrownBy(() -> Maintenance.storeOrder(misaligned)).isInstanceOf(IllegalArgumentException.class);
    Revocation tooHigh = new Revocation();
    tooHigh.store(1L << 42, 0);
    assertThatThrownBy(() -> Maintenance.storeOrder(tooHigh)).isInstanceOf(IllegalArgumentException.class);
    Revocation highest = new Revocation();
    highest.store((1L << 42) - 8, 0);
    assertThat(Maintenance.storeOrder(highest)).containsExactly(((1L << 39) - 1) << 24);
  }
}
