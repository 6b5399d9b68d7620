package org.vmspace.pagetest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The builder against the SDM (vol. 3A, 4.5): where each entry is, what each bit is, and that
 * refused requests change nothing. The reference here is an independent walk written from the
 * SDM's address split (PML4 index 47:39, PDPT 38:30, PD 29:21, PT 20:12).
 */
class PageTableBuilderTest {
  private static final long MIB = 1 << 20;
  private static final long MEMORY = 8 * MIB;
  private static final long TABLES_END = MIB;

  private static MemorySegment memory() {
    return MemorySegment.ofArray(new long[(int) (MEMORY / 8)]);
  }

  private static MemorySegment smallMemory() {
    return MemorySegment.ofArray(new long[64 * 1024 / 8]);
  }

  private static long get(MemorySegment m, long at) {
    return m.get(ValueLayout.JAVA_LONG_UNALIGNED, at);
  }

  /** The SDM's walk: the entry address at each level 4..1, stopping at a leaf or a hole. */
  private static List<long[]> sdmWalk(MemorySegment m, long cr3, long va) {
    List<long[]> out = new ArrayList<>();
    long table = cr3 & 0x000F_FFFF_FFFF_F000L;
    int[] shifts = {39, 30, 21, 12};
    for (int i = 0; i < 4; i++) {
      long at = table + 8 * ((va >>> shifts[i]) & 0x1FF);
      long e = get(m, at);
      out.add(new long[] {4 - i, at, e});
      if ((e & 1) == 0 || (i > 0 && i < 3 && (e & 0x80) != 0)) {
        break;
      }
      table = e & 0x000F_FFFF_FFFF_F000L;
      if (table >= m.byteSize()) {
        break;
      }
    }
    return out;
  }

  @Test
  void theBitsAreWhereTheSdmPutsThem() {
    assertThat(Bits.P).isEqualTo(1L << 0);
    assertThat(Bits.RW).isEqualTo(1L << 1);
    assertThat(Bits.US).isEqualTo(1L << 2);
    assertThat(Bits.PWT).isEqualTo(1L << 3);
    assertThat(Bits.PCD).isEqualTo(1L << 4);
    assertThat(Bits.A).isEqualTo(1L << 5);
    assertThat(Bits.D).isEqualTo(1L << 6);
    assertThat(Bits.PS).isEqualTo(1L << 7);
    assertThat(Bits.PAT).isEqualTo(1L << 7);
    assertThat(Bits.G).isEqualTo(1L << 8);
    assertThat(Bits.PAT_LARGE).isEqualTo(1L << 12);
    assertThat(Bits.NX).isEqualTo(1L << 63);
    assertThat(Bits.pkey(15)).isEqualTo(0x7800_0000_0000_0000L);
    assertThat(Bits.pkey(1)).isEqualTo(1L << 59);
    assertThat(Bits.PKEY_MASK).isEqualTo(0xFL << 59);
    assertThat(Bits.bit(51)).isEqualTo(1L << 51);
    assertThatThrownBy(() -> Bits.pkey(16)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0..15");
    assertThatThrownBy(() -> Bits.bit(64)).isInstanceOf(IllegalArgumentException.class);
    assertThat(Bits.describe(0x3000L | Bits.P | Bits.US | Bits.bit(51) | Bits.pkey(3) | Bits.NX))
        .isEqualTo("0x8000000003000[P US pkey=3 NX]");
    assertThat(ErrorCode.describe(ErrorCode.PF_USER | ErrorCode.PF_PROT)).isEqualTo("0x5 (PROT|USER)");
    assertThat(Level.PDE.index(0x0000_0080_00a0_3000L)).isEqualTo(5);
    assertThat(Level.PML4E.index(0x0000_0080_00a0_3000L)).isEqualTo(1);
  }

  @Test
  void aFourKilobytePageIsFourEntriesAtTheSdmsIndices() {
    MemorySegment m = memory();
    PageTableBuilder b = PageTableBuilder.in(m, 0, TABLES_END);
    long va = 0x0000_1234_5678_9000L;
    long flags = Bits.P | Bits.US | Bits.NX;
    b.map(va, 0x200000, PageSize.SIZE_4K, flags);
    List<long[]> walk = sdmWalk(m, b.root(), va);
    assertThat(walk).hasSize(4);
    assertThat(walk.get(0)[1]).isEqualTo(b.root() + 8 * 0x24); // 0x1234_5678_9000 >> 39 = 0x24
    for (int i = 0; i < 3; i++) {
      assertThat(walk.get(i)[2] & ~Bits.ADDRESS_MASK).as("table entry %d", i).isEqualTo(PageTableBuilder.DEFAULT_TABLE_FLAGS);
      assertThat(walk.get(i)[2] & Bits.ADDRESS_MASK).isBetween(0L, TABLES_END - 4096);
    }
    assertThat(walk.get(3)[2]).isEqualTo(0x200000 | flags);
    assertThat(b.walk(va)).extracting(WalkEntry::address).containsExactly(walk.stream().map(w -> w[1]).toArray(Long[]::new));
    assertThat(b.physicalAddress(va + 0x123)).hasValue(0x200123);
    for (Level l : Level.values()) {
      assertThat(b.entryAddress(va, l)).isEqualTo(walk.get(4 - l.number())[1]);
      assertThat(b.entry(va, l)).isEqualTo(walk.get(4 - l.number())[2]);
    }
  }

  @Test
  void largePagesAreLeavesWithPsAtTheirLevel() {
    MemorySegment m = memory();
    PageTableBuilder b = PageTableBuilder.in(m, 0, TABLES_END);
    b.map(0x4000_0000L, 0x200000, PageSize.SIZE_2M, Bits.P | Bits.RW | Bits.US | Bits.PAT_LARGE);
    List<long[]> w = sdmWalk(m, b.root(), 0x4000_0000L);
    assertThat(w).hasSize(3);
    assertThat(w.get(2)[2]).isEqualTo(0x200000 | Bits.P | Bits.RW | Bits.US | Bits.PS | Bits.PAT_LARGE);
    assertThat(b.physicalAddress(0x4012_3456L)).hasValue(0x200000 + 0x12_3456);
    assertThat(b.walk(0x4000_0000L).getLast().leaf()).isTrue();

    PageTableBuilder g = PageTableBuilder.in(MemorySegment.ofArray(new long[1 << 10]));
    assertThatThrownBy(() -> g.map(1L << 30, 0, PageSize.SIZE_1G, Bits.P))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside the memory");
  }

  @Test
  void aGigabytePageIsAPdpteWithPs() throws Exception {
    // A sparse file mapped: 2 GiB of address space, pages only where the tables are.
    java.nio.file.Path file = java.nio.file.Files.createTempFile("pagetest-", ".mem");
    try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.READ,
            java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.DELETE_ON_CLOSE);
        var arena = java.lang.foreign.Arena.ofConfined()) {
      MemorySegment m = ch.map(java.nio.channels.FileChannel.MapMode.READ_WRITE, 0, 2L << 30, arena);
      PageTableBuilder b = PageTableBuilder.in(m, 0, TABLES_END);
      b.map(3L << 30, 1L << 30, PageSize.SIZE_1G, Bits.P | Bits.US | Bits.G);
      List<long[]> w = sdmWalk(m, b.root(), 3L << 30);
      assertThat(w).hasSize(2);
      assertThat(w.get(1)[2]).isEqualTo((1L << 30) | Bits.P | Bits.US | Bits.G | Bits.PS);
      assertThat(b.physicalAddress((3L << 30) + 0x1234_5678)).hasValue((1L << 30) + 0x1234_5678);
      assertThatThrownBy(() -> b.map(3L << 30 | 0x200000, 0x200000, PageSize.SIZE_2M, Bits.P))
          .hasMessageContaining("overlaps the 1 GiB page");
    }
  }

  /** Every bit of every level, set through the builder, lands in that entry and nowhere else. */
  @Test
  void everyBitAtEveryLevelLandsInThatEntryOnly() {
    long va = 0x0000_0080_00a0_7000L;
    for (Level level : Level.values()) {
      for (int bit = 0; bit < 64; bit++) {
        MemorySegment m = smallMemory();
        PageTableBuilder b = PageTableBuilder.in(m, 0, 0x8000);
        b.map(va, 0x8000, PageSize.SIZE_4K, Bits.P | Bits.US);
        long[] before = m.toArray(ValueLayout.JAVA_LONG);
        long old = b.entry(va, level);
        long mask = 1L << bit;
        b.set(va, level, mask);
        long at = b.entryAddress(va, level);
        long[] after = m.toArray(ValueLayout.JAVA_LONG);
        for (int i = 0; i < after.length; i++) {
          if (i * 8L == at) {
            assertThat(after[i]).as("%s bit %d", level, bit).isEqualTo(old | mask);
          } else {
            assertThat(after[i]).as("%s bit %d: word at 0x%x", level, bit, i * 8L).isEqualTo(before[i]);
          }
        }
        // And the SDM's walk reads the bit at that level (if the walk still reaches it).
        List<long[]> w = sdmWalk(m, b.root(), va);
        long[] step = w.stream().filter(s -> s[0] == level.number()).findFirst().orElse(null);
        if (step != null) {
          assertThat(step[2] & mask).as("%s bit %d seen by the SDM walk", level, bit).isEqualTo(mask);
        }
        b.entry(va, level, old);
        assertThat(m.toArray(ValueLayout.JAVA_LONG)).isEqualTo(before);
      }
    }
  }

  /** Seeded random mappings of random sizes and flags: each reads back as the SDM walk sees it. */
  @Test
  void randomMappingsReadBackThroughTheSdmWalk() {
    for (long seed : new long[] {1, 2, 3, 42, 20261206}) {
      Random r = new Random(seed);
      MemorySegment m = memory();
      PageTableBuilder b = PageTableBuilder.in(m, 0, 2 * MIB);
      Map<Long, long[]> mapped = new HashMap<>(); // va -> {frame, size, leaf}
      for (int i = 0; i < 300; i++) {
        PageSize size = r.nextInt(8) == 0 ? PageSize.SIZE_2M : PageSize.SIZE_4K;
        int slot = r.nextInt(4) == 0 ? 256 + r.nextInt(255) : r.nextInt(4); // upper half too
        long va = ((long) slot << 39) | ((long) r.nextInt(4) << 30) | ((long) r.nextInt(8) << 21)
            | (size == PageSize.SIZE_4K ? (long) r.nextInt(512) << 12 : 0);
        va = va << 16 >> 16;
        long frame = size == PageSize.SIZE_2M ? (1 + r.nextInt(3)) * 2 * MIB : 2 * MIB + r.nextInt(1536) * 4096L;
        long flags = Bits.P | (r.nextLong() & (Bits.RW | Bits.US | Bits.PWT | Bits.PCD | Bits.A | Bits.D | Bits.G
            | Bits.NX | Bits.PKEY_MASK | Bits.bit(51) | Bits.bit(52)));
        if (size == PageSize.SIZE_4K && r.nextBoolean()) {
          flags |= Bits.PAT;
        }
        if (size == PageSize.SIZE_2M && r.nextBoolean()) {
          flags |= Bits.PAT_LARGE;
        }
        long v = va;
        long[] before = m.toArray(ValueLayout.JAVA_LONG);
        try {
          b.map(va, frame, size, flags);
        } catch (IllegalArgumentException refused) {
          // Only overlaps may be refused here, and they change nothing.
          assertThat(refused.getMessage()).containsAnyOf("already mapped", "overlaps");
          assertThat(m.toArray(ValueLayout.JAVA_LONG)).isEqualTo(before);
          continue;
        }
        mapped.put(v, new long[] {frame, size.bytes(), frame | flags | (size == PageSize.SIZE_2M ? Bits.PS : 0)});
      }
      assertThat(mapped).hasSizeGreaterThan(200);
      for (Map.Entry<Long, long[]> e : mapped.entrySet()) {
        long va = e.getKey();
        long[] want = e.getValue();
        List<long[]> w = sdmWalk(m, b.root(), va);
        assertThat(w).as("seed %d va 0x%x", seed, va).hasSize(want[1] == 4096 ? 4 : 3);
        assertThat(w.getLast()[2]).isEqualTo(want[2]);
        assertThat(w.getFirst()[1]).isEqualTo(b.root() + 8 * ((va >>> 39) & 511));
        long off = r.nextLong(want[1]);
        if ((want[2] & Bits.bit(51)) != 0) {
          // The address field (51:12) then points past the memory: no translation into it.
          assertThat(b.physicalAddress(va + off)).isEmpty();
        } else {
          assertThat(b.physicalAddress(va + off)).hasValue(want[0] + off);
        }
      }
    }
  }

  @Test
  void aliasesShareTheFrameAndSelfMapsShowTheTables() {
    MemorySegment m = memory();
    PageTableBuilder b = PageTableBuilder.in(m, 0, TABLES_END);
    b.map(0x400000, 0x200000, PageSize.SIZE_4K, Bits.P | Bits.RW | Bits.US);
    b.alias(0x7000_0000L, 0x400000);
    assertThat(b.entry(0x7000_0000L, Level.PTE)).isEqualTo(b.entry(0x400000, Level.PTE));
    assertThat(b.physicalAddress(0x7000_0008L)).hasValue(0x200008);
    b.map(0x4000_0000L, 0x400000, PageSize.SIZE_2M, Bits.P | Bits.US);
    b.alias(0x8000_0000L, 0x4000_0000L);
    assertThat(b.entry(0x8000_0000L, Level.PDE)).isEqualTo(b.entry(0x4000_0000L, Level.PDE));
    assertThatThrownBy(() -> b.alias(0x8000_1000L, 0x4000_0000L)).hasMessageContaining("not aligned");
    assertThatThrownBy(() -> b.alias(0x9000_0000L, 0x5000_0000L)).hasMessageContaining("no leaf");

    b.selfMap(300, Bits.P | Bits.US);
    assertThat(b.entry(300L << 39 << 16 >> 16, Level.PML4E)).isEqualTo(b.root() | Bits.P | Bits.US);
    // Through the self-map, the PTE of 0x400000 is a word of the page at selfMappedTable.
    long ptVa = PageTableBuilder.selfMappedTable(300, 0x400000, Level.PTE);
    assertThat(b.physicalAddress(ptVa + 8 * Level.PTE.index(0x400000)))
        .hasValue(b.entryAddress(0x400000, Level.PTE));
    long pml4Va = PageTableBuilder.selfMappedTable(300, 0x400000, Level.PML4E);
    assertThat(b.physicalAddress(pml4Va)).hasValue(b.root());
    assertThatThrownBy(() -> b.selfMap(300, Bits.P)).hasMessageContaining("in use");
    assertThatThrownBy(() -> b.selfMap(511, Bits.P)).hasMessageContaining("511");
    assertThatThrownBy(() -> b.map(300L << 39 << 16 >> 16, 0x300000, PageSize.SIZE_4K, Bits.P))
        .hasMessageContaining("self-map");
  }

  @Test
  void refusedRequestsSayWhyAndChangeNothing() {
    MemorySegment m = memory();
    PageTableBuilder b = PageTableBuilder.in(m, 0, TABLES_END);
    b.map(0x400000, 0x200000, PageSize.SIZE_4K, Bits.P | Bits.US);
    b.map(0x4000_0000L, 0x400000, PageSize.SIZE_2M, Bits.P | Bits.US);
    long[] before = m.toArray(ValueLayout.JAVA_LONG);
    record Refusal(Runnable call, String message) {}
    List<Refusal> refusals = List.of(
        new Refusal(() -> b.map(0x400800, 0x300000, PageSize.SIZE_4K, Bits.P), "not aligned to 4 KiB"),
        new Refusal(() -> b.map(0x600000, 0x300800, PageSize.SIZE_4K, Bits.P), "4 KiB-aligned"),
        new Refusal(() -> b.map(0x600000, 0x300000, PageSize.SIZE_2M, Bits.P), "2 MiB-aligned"),
        new Refusal(() -> b.map(0x0000_8000_0000_0000L, 0x300000, PageSize.SIZE_4K, Bits.P), "not canonical"),
        new Refusal(() -> b.map(0xFFFF_FF80_0000_0000L, 0x300000, PageSize.SIZE_4K, Bits.P), "slot 511"),
        new Refusal(() -> b.map(0x400000, 0x300000, PageSize.SIZE_4K, Bits.P), "already mapped"),
        new Refusal(() -> b.map(0x4000_1000L, 0x300000, PageSize.SIZE_4K, Bits.P), "overlaps the 2 MiB page"),
        new Refusal(() -> b.map(0x400000, 0x600000, PageSize.SIZE_2M, Bits.P), "a table of smaller pages"),
        new Refusal(() -> b.map(0x600000, 0x8000_0000_0000_0000L, PageSize.SIZE_4K, Bits.P), "below 2^52"),
        new Refusal(() -> b.map(0x600000, MEMORY, PageSize.SIZE_4K, Bits.P), "outside the memory"),
        new Refusal(() -> b.map(0x600000, 0x3000, PageSize.SIZE_4K, Bits.P), "overlaps the table region"),
        new Refusal(() -> b.map(0x600000, 0x300000, PageSize.SIZE_4K, Bits.P | 0x100000), "overlap the frame address"),
        new Refusal(() -> b.entry(0x9000_0000L, Level.PTE), "stops at"),
        new Refusal(() -> b.entry(0x4000_0000L, Level.PTE), "stops at"),
        new Refusal(() -> b.tableFlags(Bits.P | 0x1000), "address bits"));
    for (Refusal r : refusals) {
      assertThatThrownBy(r.call()::run).as(r.message()).isInstanceOf(IllegalArgumentException.class).hasMessageContaining(r.message());
      assertThat(m.toArray(ValueLayout.JAVA_LONG)).as(r.message()).isEqualTo(before);
    }
    // A not-present entry that is not zero is not silently replaced.
    b.clear(0x400000, Level.PDE, Bits.P);
    assertThatThrownBy(() -> b.map(0x401000, 0x300000, PageSize.SIZE_4K, Bits.P))
        .hasMessageContaining("not present (but not zero)");
    assertThatThrownBy(() -> PageTableBuilder.in(m, 0x800, 0x10000)).hasMessageContaining("not page-aligned");
    assertThatThrownBy(() -> PageTableBuilder.in(m, 0x10000, 0x10000)).hasMessageContaining("empty");
    assertThatThrownBy(() -> PageTableBuilder.in(m, 0, MEMORY + 4096)).hasMessageContaining("ends past");
  }

  @Test
  void aFullTableRegionIsAnIllegalStateAndChangesNothing() {
    MemorySegment m = memory();
    PageTableBuilder b = PageTableBuilder.in(m, 0, 3 * 4096); // the root and two tables
    long[] before = m.toArray(ValueLayout.JAVA_LONG);
    assertThatThrownBy(() -> b.map(0x400000, 0x200000, PageSize.SIZE_4K, Bits.P))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("full");
    assertThat(m.toArray(ValueLayout.JAVA_LONG)).isEqualTo(before);
    b.map(0x400000, 0x200000, PageSize.SIZE_2M, Bits.P);
    assertThatThrownBy(b::allocateFrame).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void tableFlagsApplyToNewTableEntries() {
    MemorySegment m = memory();
    PageTableBuilder b = PageTableBuilder.in(m, 0, TABLES_END).tableFlags(Bits.P | Bits.US | Bits.A | Bits.NX);
    b.map(0x400000, 0x200000, PageSize.SIZE_4K, Bits.P);
    assertThat(b.entry(0x400000, Level.PDE) & ~Bits.ADDRESS_MASK).isEqualTo(Bits.P | Bits.US | Bits.A | Bits.NX);
    assertThat(b.tableFlags()).isEqualTo(Bits.P | Bits.US | Bits.A | Bits.NX);
  }
}
