package org.vmspace.kvm.paging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.vmspace.api.Prot;

/** The range walker and its re-store visitor. */
class TableWalkerTest {
  private final HeapTableMemory mem = new HeapTableMemory();
  private final long kernelRoot = mem.allocateTable();
  private final PageTables tables = PageTables.create(mem, kernelRoot);
  private final TableWalker walker = new TableWalker(mem);

  @Test
  void aRangeVisitsEachEntryOnceTopDownAndOnlyInsideTheRange() {
    for (long va = 0x200000 - 0x3000; va < 0x200000 + 0x3000; va += 0x1000) {
      tables.install(va, Pte.userLeaf(0x900000, Prot.READ));
    }
    List<String> seen = new ArrayList<>();
    walker.walk(tables.root(), 0x1FF000, 0x201000, (va, level, gpa, entry) -> {
      seen.add(level + ":" + Long.toHexString(va));
      return TableWalker.Next.DESCEND;
    });
    // PML4E 0, PDPTE 0, PDE 0 with its last PTE, PDE 1 with its first PTE.
    assertThat(seen).containsExactly("4:0", "3:0", "2:0", "1:1ff000", "2:200000", "1:200000");
  }

  @Test
  void aWalkOfPresentEntriesShowsThoseAndOnlyThose() {
    for (long va = 0x200000 - 0x3000; va < 0x200000 + 0x3000; va += 0x2000) {
      tables.install(va, Pte.userLeaf(0x900000, Prot.READ));
    }
    long notPresent = 0x1FE000L | Pte.RW; // a non-zero entry without P
    mem.write(pteOf(0x1FE000), notPresent);
    List<String> all = new ArrayList<>();
    List<String> present = new ArrayList<>();
    walker.walk(tables.root(), 0x1FC000, 0x203000, (va, level, gpa, entry) -> {
      if (Pte.isPresent(entry)) {
        all.add(level + ":" + Long.toHexString(va));
      }
      return TableWalker.Next.DESCEND;
    });
    walker.walkPresent(tables.root(), 0x1FC000, 0x203000, (va, level, gpa, entry) -> {
      assertThat(Pte.isPresent(entry)).isTrue();
      present.add(level + ":" + Long.toHexString(va));
      return TableWalker.Next.DESCEND;
    });
    assertThat(present).isEqualTo(all).containsExactly(
        "4:0", "3:0", "2:0", "1:1fd000", "1:1ff000", "2:200000", "1:201000");
    assertThatThrownBy(() -> walker.walkPresent(tables.root(), 5, 5, (va, level, gpa, entry) -> TableWalker.Next.SKIP))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private long pteOf(long va) {
    long[] at = {-1};
    walker.walk(tables.root(), va, (v, level, gpa, entry) -> {
      if (level == 1) {
        at[0] = gpa;
      }
      return TableWalker.Next.DESCEND;
    });
    return at[0];
  }

  @Test
  void leaveFollowsEachDescentAndStopEndsTheWalk() {
    tables.install(0x5000, Pte.userLeaf(0x900000, Prot.READ));
    List<Integer> left = new ArrayList<>();
    boolean completed = walker.walk(tables.root(), 0, 0x10000, new TableWalker.Visitor() {
      @Override
      public TableWalker.Next visit(long va, int level, long gpa, long entry) {
        return TableWalker.Next.DESCEND;
      }

      @Override
      public void leave(long va, int level, long gpa, long entry) {
        left.add(level);
      }
    });
    assertThat(completed).isTrue();
    assertThat(left).containsExactly(2, 3, 4);
    assertThat(walker.walk(tables.root(), 0, 0x10000, (va, level, gpa, entry) -> TableWalker.Next.STOP)).isFalse();
  }

  @Test
  void restoreStoresEveryEntryOfTheRangesWalksOnce() {
    for (long va = 0; va < 0x4000; va += 0x1000) {
      tables.install(va, Pte.userLeaf(0x900000 + va, Prot.READ));
    }
    Revocation r = new Revocation();
    walker.walk(tables.root(), 0x1000, 0x3000, new TableWalker.Restore(mem, r));
    Set<Long> gpas = new HashSet<>();
    for (int i = 0; i < r.storeCount(); i++) {
      assertThat(gpas.add(r.entryGpa(i))).isTrue();
      assertThat(r.value(i)).isEqualTo(mem.read(r.entryGpa(i)));
    }
    assertThat(r.storeCount()).as("PML4E, PDPTE, PDE and two PTEs").isEqualTo(5);
  }

  @Test
  void restoreStoresNothingOutsideTheMemoryNorUnderIt() {
    java.lang.foreign.MemorySegment object = java.lang.foreign.MemorySegment.ofArray(new long[4 * 512]);
    TableMemory small = TableMemory.of(object);
    // PML4 at 0, PDPT at 0x1000; PDPTE 0 points past the object, PDPTE 1 at 0x2000 but with
    // address bit 51 set (so past it too), PDPTE 2 at the PD at 0x3000.
    small.write(0, 0x1000 | Pte.P | Pte.RW | Pte.US);
    small.write(0x1000, 0x40_0000 | Pte.P | Pte.RW | Pte.US);
    small.write(0x1008, (1L << 51) | 0x2000 | Pte.P | Pte.RW | Pte.US);
    small.write(0x1010, 0x3000 | Pte.P | Pte.RW | Pte.US);
    Revocation r = new Revocation();
    new TableWalker(small).walk(0, 0, 3L << 30, new TableWalker.Restore(small, r));
    List<Long> stored = new ArrayList<>();
    for (int i = 0; i < r.storeCount(); i++) {
      stored.add(r.entryGpa(i));
    }
    assertThat(stored).allMatch(small::contains);
    assertThat(stored).as("the PML4E, the three PDPTEs and the PDEs at 0x3000")
        .contains(0L, 0x1000L, 0x1008L, 0x1010L, 0x3000L);
    assertThat(small.contains(object.byteSize() - 8)).isTrue();
    assertThat(small.contains(object.byteSize() - 7)).isFalse();
    assertThat(small.contains(-8)).isFalse();
    assertThat(small.read(0x40_0000)).as("outside reads as not present").isZero();
    assertThatThrownBy(() -> small.write(object.byteSize(), 1)).isInstanceOf(IndexOutOfBoundsException.class);
  }

  @Test
  void rangesOutsideTheFourLevelSpaceAreRefused() {
    assertThatThrownBy(() -> walker.walk(tables.root(), 0x2000, 0x1000, (va, l, g, e) -> TableWalker.Next.SKIP))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> walker.walk(tables.root(), 0, (1L << 48) + 1, (va, l, g, e) -> TableWalker.Next.SKIP))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * A bulk read of entries is what as many single reads give, in guest memory and in a memory
   * object, including runs that cross the object's end (which read as 0 there); seeded.
   */
  @Test
  void bulkReadsOfEntriesMatchSingleReads() {
    java.util.Random rnd = new java.util.Random(17);
    java.lang.foreign.MemorySegment object = java.lang.foreign.MemorySegment.ofArray(new long[2 * 512]);
    try (org.vmspace.kvm.memory.GuestMemory guest = org.vmspace.kvm.memory.GuestMemory.create("walker-test", 2L << 20)) {
      TableMemory inGuest = TableMemory.in(guest,
          new org.vmspace.kvm.memory.FrameAllocator(guest, 0, 2L << 20, 2L << 20, 0));
      TableMemory inObject = TableMemory.of(object);
      for (long gpa = 0; gpa < object.byteSize(); gpa += 8) {
        inGuest.write(gpa, rnd.nextLong());
        inObject.write(gpa, rnd.nextLong());
      }
      for (int trial = 0; trial < 500; trial++) {
        long gpa = 8L * rnd.nextInt(2 * 512 + 64);
        int count = 1 + rnd.nextInt(512);
        for (TableMemory m : List.of(inGuest, inObject)) {
          long[] bulk = new long[count];
          m.readEntries(gpa, count, bulk);
          for (int i = 0; i < count; i++) {
            assertThat(bulk[i]).as("entry %d from 0x%x", i, gpa).isEqualTo(m.read(gpa + 8L * i));
          }
        }
      }
    }
  }

  @Test
  void aPresentWalkReadsAgainTheEntryItsVisitorChangedBeforeDescending() {
    tables.install(0x5000, Pte.userLeaf(0x900000, Prot.READ));
    long other = mem.allocateTable();
    List<String> seen = new ArrayList<>();
    // At the PDE, the visitor points the entry at an empty table: the walk must not see the
    // old table's leaf.
    walker.walkPresent(tables.root(), 0, 0x400000, (va, level, gpa, entry) -> {
      seen.add(level + ":" + Long.toHexString(va));
      if (level == 2) {
        mem.write(gpa, other | Pte.TABLE_FLAGS);
      }
      return TableWalker.Next.DESCEND;
    });
    assertThat(seen).containsExactly("4:0", "3:0", "2:0");
  }
}
