package org.vmspace.kvm.paging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.vmspace.api.Prot;

/** The tables' editor and walker, on heap memory, against a map of expected translations. */
class PageTablesTest {
  private final HeapTableMemory mem = new HeapTableMemory();
  private final long kernelRoot = mem.allocateTable();
  private static final long KERNEL_PML4E = 0xABC000L | Pte.TABLE_FLAGS;

  private PageTables tables() {
    mem.write(kernelRoot + 8 * 511, KERNEL_PML4E);
    return PageTables.create(mem, kernelRoot);
  }

  @Test
  void theUpperHalfIsSharedAndTheLowerHalfEmpty() {
    PageTables t = tables();
    assertThat(mem.read(t.root() + 8 * 511)).isEqualTo(KERNEL_PML4E);
    for (int i = 0; i < 256; i++) {
      assertThat(mem.read(t.root() + 8L * i)).isZero();
    }
  }

  @Test
  void installAndWalk() {
    PageTables t = tables();
    long va = 0x7fff_1234_5000L;
    assertThat(t.install(va, Pte.userLeaf(0x200000, Prot.READ_WRITE))).isTrue();
    PageWalker.Translation tr = t.lookup(va + 0x123);
    assertThat(tr.isPresent()).isTrue();
    assertThat(tr.level()).isEqualTo(1);
    assertThat(tr.physical(va + 0x123)).isEqualTo(0x200123);
    assertThat(tr.permits(Access.WRITE)).isTrue();
    assertThat(tr.permits(Access.EXECUTE)).isFalse();
    assertThat(tr.faultErrorCode(Access.EXECUTE)).isEqualTo(0x15);
    assertThat(t.tableCount()).isEqualTo(4);
    assertThat(t.lookup(va + 4096).isPresent()).isFalse();
    assertThat(t.lookup(va + 4096).faultErrorCode(Access.WRITE)).isEqualTo(6);
  }

  /**
   * Fault-around's bulk path: the run is read from the leaf table of the last install, and
   * only the pages given a leaf change, each of them not present before.
   */
  @Test
  void aLeafRunFillsOnlyTheGivenNotPresentEntriesOfTheCachedTable() {
    PageTables t = tables();
    long block = 0x60_0000; // 2 MiB aligned: one leaf table
    t.install(block + 5 * 4096L, Pte.userLeaf(0x9000, Prot.READ));
    assertThat(t.cachedLeafRun(block + 0x20_0000, 4)).as("another leaf table").isNull();
    assertThat(t.cachedLeafRun(block + 510 * 4096L, 4)).as("past the table's end").isNull();
    long[] before = t.cachedLeafRun(block, 512);
    assertThat(before).hasSize(512);
    assertThat(Pte.isPresent(before[5])).isTrue();
    long[] leaves = new long[512];
    for (int i = 0; i < 512; i++) {
      if (i != 5 && i % 7 != 3) {
        leaves[i] = Pte.userLeaf(0x100_0000 + i * 4096L, Prot.READ_WRITE);
      }
    }
    t.installRun(block, before, leaves);
    for (int i = 0; i < 512; i++) {
      PageWalker.Translation tr = t.lookup(block + i * 4096L);
      if (i == 5) {
        assertThat(tr.physical(block + i * 4096L)).isEqualTo(0x9000);
      } else if (i % 7 == 3) {
        assertThat(tr.isPresent()).as("page %d given no leaf", i).isFalse();
      } else {
        assertThat(tr.physical(block + i * 4096L)).as("page %d", i).isEqualTo(0x100_0000 + i * 4096L);
        assertThat(tr.permits(Access.WRITE)).isTrue();
      }
    }
    // A present entry never changes through a run, nor does a run read before another edit.
    long[] again = new long[512];
    again[5] = Pte.userLeaf(0x7000, Prot.READ);
    assertThatThrownBy(() -> t.installRun(block, t.cachedLeafRun(block, 512), again))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("present");
    assertThat(t.lookup(block + 5 * 4096L).physical(block + 5 * 4096L)).isEqualTo(0x9000);
    long[] stale = t.cachedLeafRun(block, 512);
    t.install(block + 0x20_0000, Pte.userLeaf(0xA000, Prot.READ));
    assertThatThrownBy(() -> t.installRun(block, stale, new long[512])).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void aPresentLeafIsWidenedInPlaceOnlyWhenItsRightsOnlyGrow() {
    PageTables t = tables();
    long va = 0x40_0000;
    long readOnly = Pte.userLeaf(0x5000, Prot.READ);
    t.install(va, readOnly);
    long entry = t.lookup(va).entryGpa();
    mem.write(entry, readOnly | Pte.A); // as the CPU leaves it
    // Not widenings: another frame, fewer rights, no execute where there was, not present.
    assertThat(t.widen(entry, Pte.userLeaf(0x6000, Prot.READ_WRITE))).isFalse();
    assertThat(t.widen(entry, readOnly & ~Pte.US)).isFalse();
    assertThat(t.widen(entry, (readOnly & ~Pte.NX) | Pte.RW)).isTrue();
    assertThat(t.widen(entry, Pte.userLeaf(0x5000, Prot.READ_WRITE))).as("execute would be taken away").isFalse();
    assertThat(t.lookup(va).permits(Access.WRITE)).isTrue();
    assertThat(t.lookup(va).permits(Access.EXECUTE)).isTrue();
    assertThat(t.lookup(va).physical(va)).isEqualTo(0x5000);
    assertThat(mem.read(entry) & Pte.A).as("the accessed bit the CPU set is kept").isEqualTo(Pte.A);
    assertThat(Pte.widens(0, Pte.userLeaf(0x5000, Prot.READ))).as("a missing leaf is installed, not widened").isFalse();
    assertThat(Pte.widens(readOnly, readOnly | Pte.PS)).as("another page size").isFalse();
  }

  @Test
  void presentLeavesChangeOnlyThroughARevocation() {
    PageTables t = tables();
    t.install(0x1000, Pte.userLeaf(0x5000, Prot.READ));
    assertThatThrownBy(() -> t.install(0x1000, Pte.userLeaf(0x6000, Prot.READ)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("revocation");
    assertThatThrownBy(() -> t.install(0xFFFF_8000_0000_0000L, 1)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aFullyUnmappedTableIsUnlinkedAndFreedAfterItsEntries() {
    PageTables t = tables();
    for (long va = 0x40_0000; va < 0x60_0000; va += 0x1000) {
      t.install(va, Pte.userLeaf(0x1000_0000 + va, Prot.READ));
    }
    t.install(0x60_0000, Pte.userLeaf(0x2000_0000, Prot.READ));
    int before = t.tableCount();
    Revocation r = new Revocation();
    List<Long> seen = new ArrayList<>();
    t.revokeRange(0x40_0000, 0x60_0000, (va, leaf, out) -> {
      seen.add(va);
      return 0;
    }, r);
    assertThat(seen).hasSize(512);
    // 512 leaf stores, one PDE store, and the PT frame to free; nothing was written host-side.
    assertThat(r.storeCount()).isEqualTo(513);
    assertThat(r.frameCount()).isEqualTo(1);
    assertThat(t.lookup(0x40_0000).isPresent()).isTrue();
    mem.apply(r);
    assertThat(t.lookup(0x40_0000).isPresent()).isFalse();
    assertThat(t.lookup(0x60_0000).isPresent()).isTrue();
    assertThat(t.tableCount()).isEqualTo(before - 1);
  }

  @Test
  void anInstallAfterItsLeafTableWasUnlinkedGetsANewTable() {
    PageTables t = tables();
    t.install(0x40_0000, Pte.userLeaf(0x9000, Prot.READ));
    Revocation r = new Revocation();
    t.revokeRange(0x40_0000, 0x60_0000, (va, leaf, out) -> 0, r);
    assertThat(r.frameCount()).isEqualTo(1);
    mem.apply(r);
    // The next install in the same 2 MiB must not go into the table just unlinked.
    assertThat(t.install(0x40_1000, Pte.userLeaf(0xA000, Prot.READ))).isTrue();
    assertThat(t.lookup(0x40_1000).isPresent()).isTrue();
    assertThat(Pte.address(t.lookup(0x40_1000).leaf())).isEqualTo(0xA000);
    // And neighbours installed after it go into the new table, not the old one.
    assertThat(t.install(0x40_2000, Pte.userLeaf(0xB000, Prot.READ))).isTrue();
    assertThat(Pte.address(t.lookup(0x40_2000).leaf())).isEqualTo(0xB000);
    assertThat(Pte.address(t.lookup(0x40_1000).leaf())).isEqualTo(0xA000);
  }

  @Test
  void aPartlyUnmappedTableStays() {
    PageTables t = tables();
    t.install(0x40_0000, Pte.userLeaf(0x9000, Prot.READ));
    t.install(0x40_1000, Pte.userLeaf(0xA000, Prot.READ));
    Revocation r = new Revocation();
    t.revokeRange(0x40_0000, 0x40_1000, (va, leaf, out) -> 0, r);
    assertThat(r.storeCount()).isEqualTo(1);
    assertThat(r.frameCount()).isZero();
  }

  @Test
  void aRewriterCanDowngradeInsteadOfUnmapping() {
    PageTables t = tables();
    t.install(0x40_0000, Pte.userLeaf(0x9000, Prot.READ_WRITE));
    Revocation r = new Revocation();
    t.revokeRange(0x40_0000, 0x40_1000, (va, leaf, out) -> leaf & ~Pte.RW, r);
    mem.apply(r);
    assertThat(t.lookup(0x40_0000).permits(Access.WRITE)).isFalse();
    assertThat(t.lookup(0x40_0000).permits(Access.READ)).isTrue();
  }

  @Test
  void revokeAllClearsEveryEntryOfEveryTableAndFreesThem() {
    int baseline = mem.allocated;
    PageTables t = tables();
    t.install(0x1000, Pte.userLeaf(0x9000, Prot.READ));
    t.install(0x7fff_0000_0000L, Pte.userLeaf(0xA000, Prot.READ));
    t.install(0x4000_0000L, Pte.userLeaf(0xB000, Prot.READ));
    List<Long> leaves = new ArrayList<>();
    Revocation r = new Revocation();
    t.revokeAll(r, (va, leaf, out) -> {
      leaves.add(Pte.address(leaf));
      return 0;
    });
    assertThat(leaves).containsExactlyInAnyOrder(0x9000L, 0xA000L, 0xB000L);
    mem.apply(r); // asserts every freed table is empty
    assertThat(mem.allocated).isEqualTo(baseline);
    assertThat(mem.read(t.root() + 8 * 511)).as("the shared entry is cleared in the dead root").isZero();
  }

  @Test
  void installFailsCleanlyWithoutMemory() {
    PageTables t = tables();
    mem.limit = mem.allocated + 1;
    assertThat(t.install(0x1000, Pte.userLeaf(0x9000, Prot.READ))).isFalse();
    assertThat(t.lookup(0x1000).isPresent()).isFalse();
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {3, 17, 2026})
  void randomInstallsAndRevocationsMatchAModel(long seed) {
    RandomGenerator rnd = RandomGeneratorFactory.of("L64X128MixRandom").create(seed);
    int baseline = mem.allocated;
    PageTables t = tables();
    Map<Long, Long> model = new HashMap<>();
    long[] regions = {0x0, 0x7fff_ff00_0000L, 0x4000_0000L, 0x1_0000_0000L};
    for (int op = 0; op < 20_000; op++) {
      long base = regions[rnd.nextInt(regions.length)];
      long va = base + (rnd.nextLong(4096) << 12);
      if (rnd.nextInt(3) > 0) {
        if (!model.containsKey(va)) {
          long frame = rnd.nextLong(1 << 20) << 12;
          t.install(va, Pte.userLeaf(frame, Prot.READ));
          model.put(va, frame);
        }
      } else {
        long len = (1 + rnd.nextLong(1024)) << 12;
        long end = Math.min(va + len, 1L << 47);
        Revocation r = new Revocation();
        t.revokeRange(va, end, (v, leaf, out) -> {
          assertThat(model.remove(v)).isEqualTo(Pte.address(leaf));
          return 0;
        }, r);
        mem.apply(r);
        for (long v = va; v < end; v += 4096) {
          assertThat(t.lookup(v).isPresent()).as("0x%x after revoking [0x%x, 0x%x)", v, va, end).isFalse();
        }
      }
      // isPresent, whose fast path reads the last install's leaf table, agrees with the model
      // for a page in the same 2 MiB as this operation's and for one anywhere.
      long near = (va & ~0x1F_FFFFL) + (rnd.nextLong(512) << 12);
      long far = regions[rnd.nextInt(regions.length)] + (rnd.nextLong(4096) << 12);
      assertThat(t.isPresent(near)).as("isPresent 0x%x, op %d", near, op).isEqualTo(model.containsKey(near));
      assertThat(t.isPresent(far)).as("isPresent 0x%x, op %d", far, op).isEqualTo(model.containsKey(far));
      if (op % 2000 == 0) {
        for (Map.Entry<Long, Long> e : model.entrySet()) {
          assertThat(t.lookup(e.getKey()).physical(e.getKey())).isEqualTo(e.getValue());
        }
        for (int i = 0; i < 1000; i++) {
          long v = regions[rnd.nextInt(regions.length)] + (rnd.nextLong(4096) << 12);
          assertThat(t.lookup(v).isPresent()).as("0x%x", v).isEqualTo(model.containsKey(v));
        }
      }
    }
    Revocation r = new Revocation();
    t.revokeAll(r, (v, leaf, out) -> {
      assertThat(model.remove(v)).isEqualTo(Pte.address(leaf));
      return 0;
    });
    mem.apply(r);
    assertThat(model).isEmpty();
    assertThat(mem.allocated).isEqualTo(baseline);
  }
}
