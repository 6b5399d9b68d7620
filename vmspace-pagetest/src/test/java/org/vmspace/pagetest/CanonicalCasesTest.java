package org.vmspace.pagetest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmspace.pagetest.AccessAssert.assertThat;
import static org.vmspace.pagetest.Bits.NX;
import static org.vmspace.pagetest.Bits.P;
import static org.vmspace.pagetest.Bits.RW;
import static org.vmspace.pagetest.Bits.US;
import static org.vmspace.pagetest.ErrorCode.PF_INSTR;
import static org.vmspace.pagetest.ErrorCode.PF_PROT;
import static org.vmspace.pagetest.ErrorCode.PF_RSVD;
import static org.vmspace.pagetest.ErrorCode.PF_USER;
import static org.vmspace.pagetest.ErrorCode.PF_WRITE;
import static org.vmspace.pagetest.UserAccess.fetch;
import static org.vmspace.pagetest.UserAccess.read;
import static org.vmspace.pagetest.UserAccess.write;

import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The kit as a user writes tests with it: access.c's canonical cases, on the machine and the model. */
@PageTableTest
class CanonicalCasesTest {
  private static final long VA = 0x40_0000;
  private static final long FRAME = 0x20_0000;
  private PageTableKit before;

  @BeforeEach
  void setUp(PageTableKit kit) {
    before = kit;
  }

  @Test
  void theKitOfBeforeEachIsTheTestsOwn(PageTableKit kit) {
    assertThat(kit).isSameAs(before);
  }

  @Test
  void aNotPresentPageFaultsWithoutP(PageTableKit kit) {
    assertThat(kit.run(read(VA))).faultsWith(PF_USER).hasCr2(VA).agreesWithModel();
  }

  @Test
  void aUserReadOfASupervisorPageFaults(PageTableKit kit) {
    kit.tables().map(VA, FRAME, PageSize.SIZE_4K, P | RW);
    assertThat(kit.run(read(VA))).faultsWith(PF_USER | PF_PROT).agreesWithModel();
  }

  @Test
  void aSupervisorPdeDeniesAUserPte(PageTableKit kit) {
    kit.tables().map(VA, FRAME, PageSize.SIZE_4K, P | RW | US).clear(VA, Level.PDE, US);
    assertThat(kit.run(read(VA))).faultsWith(PF_USER | PF_PROT).agreesWithModel();
  }

  @Test
  void aWriteToAReadOnlyPageFaults(PageTableKit kit) {
    kit.tables().map(VA, FRAME, PageSize.SIZE_4K, P | US);
    assertThat(kit.run(write(VA + 8))).faultsWith(PF_USER | PF_WRITE | PF_PROT).hasCr2(VA + 8).agreesWithModel();
    assertThat(kit.run(read(VA + 8))).completes().setAccessed(Level.PTE).agreesWithModel();
  }

  @Test
  void aFetchFromAnNxPageFaults(PageTableKit kit) {
    kit.tables().map(VA, FRAME, PageSize.SIZE_4K, P | US | NX);
    assertThat(kit.run(fetch(VA + 0x10))).faultsWith(PF_USER | PF_INSTR | PF_PROT).agreesWithModel();
    kit.tables().clear(VA, Level.PTE, NX);
    assertThat(kit.run(fetch(VA + 0x10))).completes().agreesWithModel();
    kit.tables().set(VA, Level.PDPTE, NX); // NX at any level denies the fetch
    assertThat(kit.run(fetch(VA + 0x10))).faultsWith(PF_USER | PF_INSTR | PF_PROT).agreesWithModel();
  }

  @Test
  void aReservedBitFaultsWithRsvd(PageTableKit kit) {
    // P comes with RSVD (SDM 4.7), except under QEMU's TCG with nested paging: a known deviation.
    HostDeviation tcg = AccessMatrix.QEMU_TCG_RSVD_WITHOUT_P;
    int expected = PF_USER | PF_RSVD | (tcg.hosts().contains(PageTableKit.where()) ? 0 : PF_PROT);
    kit.tables().map(VA, FRAME, PageSize.SIZE_4K, P | US | Bits.bit(51));
    assertThat(kit.run(read(VA))).faultsWith(expected).agreesWithModelExceptFor(tcg);
    kit.tables().clear(VA, Level.PTE, Bits.bit(51)).set(VA, Level.PDE, Bits.bit(51));
    assertThat(kit.run(read(VA))).faultsWith(expected).agreesWithModelExceptFor(tcg);
  }

  @Test
  void aWriteSetsAccessedOnTheWalkAndDirtyOnTheLeaf(PageTableKit kit) {
    kit.tables().map(VA, FRAME, PageSize.SIZE_4K, P | RW | US);
    assertThat(kit.run(write(VA))).completes()
        .setAccessed(Level.PML4E).setAccessed(Level.PDPTE).setAccessed(Level.PDE).setAccessed(Level.PTE)
        .setDirty().agreesWithModel();
    assertThat(kit.memory().segment().get(ValueLayout.JAVA_LONG, FRAME)).isEqualTo(AccessRunner.WRITE_VALUE);
  }

  @Test
  void aTwoMegabytePageTranslatesItsWholeRange(PageTableKit kit) {
    long va = 0x4000_0000L;
    kit.tables().map(va, 0x40_0000, PageSize.SIZE_2M, P | RW | US);
    kit.memory().segment().set(ValueLayout.JAVA_LONG, 0x40_0000 + 0x1F_F000, 0xC0FFEE);
    MachineResult r = kit.run(read(va + 0x1F_F000));
    assertThat(r).completes().setAccessed(Level.PDE).agreesWithModel();
    assertThat(r.value()).isEqualTo(0xC0FFEE);
    assertThat(r.walk()).hasSize(3);
    assertThat(kit.run(write(va + 0x1000))).completes().setDirty().agreesWithModel();
  }

  @Test
  void twoAddressesOfOneFrameSeeTheSameBytes(PageTableKit kit) {
    kit.tables().map(VA, FRAME, PageSize.SIZE_4K, P | RW | US).alias(0x7000_0000L, VA);
    assertThat(kit.run(write(VA + 0x40))).completes();
    MachineResult r = kit.run(read(0x7000_0040L));
    assertThat(r).completes().agreesWithModel();
    assertThat(r.value()).isEqualTo(AccessRunner.WRITE_VALUE);
  }
}
