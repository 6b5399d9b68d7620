package org.vmspace.pagetest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmspace.pagetest.AccessAssert.assertThat;
import static org.vmspace.pagetest.ErrorCode.PF_INSTR;
import static org.vmspace.pagetest.ErrorCode.PF_PROT;
import static org.vmspace.pagetest.ErrorCode.PF_RSVD;
import static org.vmspace.pagetest.ErrorCode.PF_USER;
import static org.vmspace.pagetest.ErrorCode.PF_WRITE;

import org.junit.jupiter.api.Test;

/**
 * Each known host deviation, pinned: it happens exactly on the hosts it names, exactly as its
 * predicate says, and nowhere else (where the machine must agree with the model).
 */
@PageTableTest
class HostDeviationTest {
  private static final long VA = 0x40_0000;

  @Test
  void qemuTcgReportsReservedBitFaultsWithoutPUnderNestedPagingOnly(PageTableKit kit) {
    HostDeviation d = AccessMatrix.QEMU_TCG_RSVD_WITHOUT_P;
    boolean here = d.hosts().contains(PageTableKit.where());
    kit.tables().map(VA, 0x20_0000, PageSize.SIZE_4K, Bits.P | Bits.RW | Bits.US | Bits.bit(51));
    int[] codes = {PF_USER | PF_RSVD, PF_USER | PF_WRITE | PF_RSVD, PF_USER | PF_INSTR | PF_RSVD};
    UserAccess[] accesses = {UserAccess.read(VA), UserAccess.write(VA), UserAccess.fetch(VA)};
    for (int i = 0; i < accesses.length; i++) {
      MachineResult r = kit.run(accesses[i]);
      if (here) {
        assertThat(r).faultsWith(codes[i]);
        HostDeviation.Observation o = new HostDeviation.Observation(accesses[i], r, r.model().orElseThrow(),
            r.differencesFromModel(), PageTableKit.where());
        assertThat(o.differences()).hasSize(1);
        assertThat(d.explains(o)).as("%s", o.differences()).isTrue();
      } else {
        assertThat(r).faultsWith(codes[i] | PF_PROT).agreesWithModel();
      }
    }
    // A fault with P but no RSVD is not this deviation's, anywhere.
    kit.tables().clear(VA, Level.PTE, Bits.bit(51) | Bits.RW);
    assertThat(kit.run(UserAccess.write(VA))).faultsWith(PF_USER | PF_WRITE | PF_PROT).agreesWithModel();
  }
}
