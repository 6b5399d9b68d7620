package org.vmspace.kvm.paging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;
import org.junit.jupiter.api.Test;
import org.vmspace.api.Trap;

/** The reference model of user-mode accesses, on heap tables, without KVM. */
class AccessModelTest {
  private static final long VA = 0x0000_1234_5678_9000L;
  private static final long FRAME = 0x4000_0000L;
  private static final long TABLE = Pte.P | Pte.RW | Pte.US;
  private final HeapTableMemory mem = new HeapTableMemory();
  private final long root = mem.allocateTable();
  private final long pdpt = mem.allocateTable();
  private final long pd = mem.allocateTable();
  private final long pt = mem.allocateTable();
  private final AccessModel model = new AccessModel(mem, PagingControls.guest(40));

  private void tables(long pde, long pte) {
    mem.write(root + 8L * Pte.index(VA, 4), pdpt | TABLE | Pte.A);
    mem.write(pdpt + 8L * Pte.index(VA, 3), pd | TABLE | Pte.A);
    mem.write(pd + 8L * Pte.index(VA, 2), pde);
    mem.write(pt + 8L * Pte.index(VA, 1), pte);
  }

  private Outcome access(Access access) {
    return model.userAccess(root, VA + 0x10, access);
  }

  @Test
  void aReadThroughUserTablesSucceedsAndSetsTheAccessedBits() {
    tables(pt | TABLE, FRAME | Pte.P | Pte.US);
    Outcome o = access(Access.READ);
    assertThat(o.faults()).isFalse();
    assertThat(o.physical()).isEqualTo(FRAME + 0x10);
    assertThat(o.walk()).hasSize(4);
    assertThat(o.step(2).after()).isEqualTo(pt | TABLE | Pte.A);
    assertThat(o.step(1).after()).isEqualTo(FRAME | Pte.P | Pte.US | Pte.A);
    assertThat(o.walk()).allSatisfy(s -> assertThat(s.either()).isZero());
  }

  @Test
  void aWriteSetsTheDirtyBitOfTheLeafOnly() {
    tables(pt | TABLE, FRAME | Pte.P | Pte.US | Pte.RW);
    Outcome o = access(Access.WRITE);
    assertThat(o.faults()).isFalse();
    assertThat(o.step(1).after() & Pte.D).isNotZero();
    assertThat(o.step(2).after() & Pte.D).as("a table entry's D bit is ignored, never set").isZero();
  }

  @Test
  void errorCodesFollowTheWalk() {
    tables(pt | TABLE, 0);
    assertThat(access(Access.READ).errorCode()).as("not present").isEqualTo(Trap.PF_USER);
    assertThat(access(Access.WRITE).errorCode()).isEqualTo(Trap.PF_USER | Trap.PF_WRITE);
    assertThat(access(Access.EXECUTE).errorCode()).isEqualTo(Trap.PF_USER | Trap.PF_INSTR);

    tables(pt | TABLE, FRAME | Pte.P);
    assertThat(access(Access.READ).errorCode()).as("supervisor page").isEqualTo(Trap.PF_USER | Trap.PF_PRESENT);

    tables(pt | Pte.P | Pte.US, FRAME | Pte.P | Pte.US | Pte.RW);
    assertThat(access(Access.WRITE).errorCode()).as("read-only PDE")
        .isEqualTo(Trap.PF_USER | Trap.PF_PRESENT | Trap.PF_WRITE);
    assertThat(access(Access.READ).faults()).isFalse();

    tables(pt | TABLE | Pte.NX, FRAME | Pte.P | Pte.US);
    assertThat(access(Access.EXECUTE).errorCode()).as("NX in the PDE")
        .isEqualTo(Trap.PF_USER | Trap.PF_PRESENT | Trap.PF_INSTR);
  }

  @Test
  void reservedBitsFaultWithRsvdBeforeAnyPermissionCheck() {
    tables(pt | TABLE, FRAME | Pte.P | (1L << 51));
    assertThat(access(Access.READ).errorCode()).isEqualTo(Trap.PF_USER | Trap.PF_PRESENT | Trap.PF_RSVD);
    // A reserved bit in the PDE stops the walk there: the PTE is never read.
    tables(pt | TABLE | (1L << 51), 0);
    Outcome o = access(Access.READ);
    assertThat(o.errorCode()).isEqualTo(Trap.PF_USER | Trap.PF_PRESENT | Trap.PF_RSVD);
    assertThat(o.walk()).hasSize(3);
    // Bit 13 of a 2 MiB leaf is reserved; of a table pointer it is an address bit.
    tables(FRAME | Pte.P | Pte.US | Pte.PS | (1L << 13), 0);
    assertThat(access(Access.READ).errorCode() & Trap.PF_RSVD).isNotZero();
    // PS in a PML4E is reserved.
    mem.write(root + 8L * Pte.index(VA, 4), pdpt | TABLE | Pte.PS);
    assertThat(access(Access.READ).errorCode() & Trap.PF_RSVD).isNotZero();
  }

  @Test
  void withoutNxeBit63IsReservedAndFetchesCarryNoIdBit() {
    AccessModel noNx = new AccessModel(mem, new PagingControls(false, false, 0, 40));
    tables(pt | TABLE, FRAME | Pte.P | Pte.US | Pte.NX);
    assertThat(noNx.userAccess(root, VA, Access.EXECUTE).errorCode())
        .isEqualTo(Trap.PF_USER | Trap.PF_PRESENT | Trap.PF_RSVD);
    tables(pt | TABLE, 0);
    assertThat(noNx.userAccess(root, VA, Access.EXECUTE).errorCode()).isEqualTo(Trap.PF_USER);
  }

  @Test
  void largePagesTranslateWithTheirOwnOffsetBits() {
    tables(FRAME | Pte.P | Pte.US | Pte.PS, 0);
    Outcome o = model.userAccess(root, VA + 0x12345, Access.READ);
    assertThat(o.walk()).hasSize(3);
    assertThat(o.physical()).isEqualTo(FRAME + ((VA + 0x12345) & 0x1F_FFFF));
    // The PAT bit (12) of a large leaf is not an address bit.
    tables(FRAME | Pte.P | Pte.US | Pte.PS | (1L << 12), 0);
    assertThat(model.userAccess(root, VA, Access.READ).physical()).isEqualTo(FRAME + (VA & 0x1F_FFFF));
    // 1 GiB.
    mem.write(pdpt + 8L * Pte.index(VA, 3), FRAME | Pte.P | Pte.US | Pte.PS);
    assertThat(model.userAccess(root, VA, Access.READ).physical()).isEqualTo(FRAME + (VA & 0x3FFF_FFFF));
  }

  @Test
  void aFaultLeavesThePteAndMaySetTheAccessedBitsAbove() {
    tables(pt | TABLE, FRAME | Pte.P | Pte.US);
    Outcome o = access(Access.WRITE);
    assertThat(o.faults()).isTrue();
    assertThat(o.step(1).either()).isZero();
    assertThat(o.step(1).matches(FRAME | Pte.P | Pte.US | Pte.A)).isFalse();
    assertThat(o.step(2).either()).isEqualTo(Pte.A);
    assertThat(o.step(2).matches(pt | TABLE | Pte.A)).isTrue();
    assertThat(o.step(2).matches(pt | TABLE | Pte.D)).isFalse();
  }

  @Test
  void protectionKeysRefuseDataAccessesOnlyWithPke() {
    long key3 = 3L << 59;
    tables(pt | TABLE, FRAME | Pte.P | Pte.US | Pte.RW | key3);
    AccessModel pke = new AccessModel(mem, new PagingControls(true, true, 0b10 << 6, 40));
    assertThat(pke.userAccess(root, VA, Access.READ).faults()).isFalse();
    assertThat(pke.userAccess(root, VA, Access.WRITE).errorCode())
        .isEqualTo(Trap.PF_USER | Trap.PF_PRESENT | Trap.PF_WRITE | Outcome.PF_PK);
    assertThat(model.userAccess(root, VA, Access.WRITE).faults()).as("keys ignored without PKE").isFalse();
  }

  @Test
  void nonCanonicalAddressesAreNotPageFaults() {
    assertThatThrownBy(() -> model.userAccess(root, 0x0000_8000_0000_0000L, Access.READ))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("#GP");
  }

  /**
   * The model and the service's own walker are the same walk: on entries without reserved bits
   * they agree on every translation, permission and error code.
   */
  @Test
  void agreesWithTheServiceWalkerOnRandomTables() {
    RandomGenerator random = RandomGeneratorFactory.of("L64X128MixRandom").create(14);
    PageWalker walker = new PageWalker(mem);
    long[] bits = {Pte.P, Pte.RW, Pte.US, Pte.A, Pte.D, Pte.NX};
    for (int i = 0; i < 20_000; i++) {
      long pde = pt;
      long pte = FRAME;
      for (long b : bits) {
        pde |= random.nextBoolean() ? b : 0;
        pte |= random.nextBoolean() ? b : 0;
      }
      if (random.nextInt(4) == 0) {
        pde = (FRAME | Pte.PS) | (pde & ~Pte.ADDRESS_MASK);
      }
      tables(pde, pte);
      Access access = Access.values()[random.nextInt(3)];
      Outcome o = access(access);
      PageWalker.Translation t = walker.walk(root, VA + 0x10);
      assertThat(o.faults()).as("case %d: pde %s pte %s %s", i, Pte.toString(pde), Pte.toString(pte), access)
          .isEqualTo(!t.permits(access));
      if (o.faults()) {
        assertThat(o.errorCode()).isEqualTo(t.faultErrorCode(access));
      } else {
        assertThat(o.physical()).isEqualTo(t.physical(VA + 0x10));
      }
    }
  }
}
