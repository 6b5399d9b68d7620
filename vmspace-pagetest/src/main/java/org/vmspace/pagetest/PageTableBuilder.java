package org.vmspace.pagetest;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * Writes x86-64 4-level page tables into a {@link MemorySegment} whose offsets are physical
 * addresses (normally a {@link org.vmspace.api.MemoryObject#segment()} that a vmspace maps
 * {@code MAP_VPAGETABLE}). Tables are allocated bump-style, zeroed, from a table region of the
 * memory; the first frame of the region is the root (PML4).
 *
 * <pre>{@code
 * PageTableBuilder b = PageTableBuilder.in(memory.segment(), 0, 0x100000);
 * b.map(0x400000, 0x200000, PageSize.SIZE_4K, Bits.P | Bits.US | Bits.NX)  // a user read-only page
 *  .set(0x400000, Level.PDE, Bits.bit(51))                                 // a reserved bit in its PDE
 *  .alias(0x600000, 0x400000);                                             // a second VA for the frame
 * long cr3 = b.root();
 * }</pre>
 *
 * <p>Guarantees: {@link #map} writes the leaf exactly as {@code frame | flags} (plus {@link
 * Bits#PS} for a 2 MiB or 1 GiB page) at the SDM's index of each level, and every table entry
 * it creates as {@code table | tableFlags()}; nothing else in the memory changes. Raw access
 * ({@link #entry(long, Level)}, {@link #entry(long, Level, long)}, {@link #set}, {@link #clear})
 * follows whatever present entries are in memory (self-maps included) and writes any value. All
 * address arithmetic is unsigned; virtual addresses must be canonical (48-bit). Entry 511 of
 * the root belongs to the vmspace service (it writes its kernel image there on {@code
 * MADV_SETMAP}): the builder never writes it.
 *
 * <p>Errors: a request that cannot be honoured as asked (misaligned, non-canonical, overlapping
 * an existing mapping, a frame outside the memory or inside the table region, a walk that does
 * not reach the level asked for) throws {@link IllegalArgumentException} saying which and why,
 * and changes nothing; a full table region throws {@link IllegalStateException}.
 *
 * <p>Not thread-safe. Edits of present entries reach a running vmspace only after {@code
 * MADV_INVAL} (the {@link AccessRunner} does that for the page it accesses).
 */
public final class PageTableBuilder {
  /** The root entry reserved for the vmspace service. */
  public static final int SERVICE_SLOT = 511;
  /** The flags of new table entries unless {@link #tableFlags(long)} says otherwise. */
  public static final long DEFAULT_TABLE_FLAGS = Bits.P | Bits.RW | Bits.US;

  private static final long PAGE = 4096;
  private static final long MAX_PHYSICAL = 1L << 52;

  private final MemorySegment memory;
  private final long regionStart;
  private final long regionEnd;
  private final long root;
  /** The tables this builder allocated, by frame, with the level of their entries. */
  private final Map<Long, Level> tables = new HashMap<>();
  private long next;
  private long tableFlags = DEFAULT_TABLE_FLAGS;

  private PageTableBuilder(MemorySegment memory, long regionStart, long regionEnd) {
    this.memory = memory;
    this.regionStart = regionStart;
    this.regionEnd = regionEnd;
    this.next = regionStart;
    this.root = allocateTable(Level.PML4E);
  }

  /**
   * A builder whose tables take frames from the whole of {@code memory}, root at offset 0.
   *
   * @throws IllegalArgumentException if the memory is smaller than a page or not a whole number
   *     of pages
   */
  public static PageTableBuilder in(MemorySegment memory) {
    return in(memory, 0, memory.byteSize());
  }

  /**
   * A builder whose tables take frames from {@code [regionStart, regionEnd)} of {@code memory};
   * the root is the region's first frame. The rest of the memory is for the pages tests map.
   *
   * @throws IllegalArgumentException if the region is not page-aligned, is empty, or is not
   *     inside the memory
   */
  public static PageTableBuilder in(MemorySegment memory, long regionStart, long regionEnd) {
    if (((regionStart | regionEnd) & (PAGE - 1)) != 0) {
      throw new IllegalArgumentException("table region [" + hex(regionStart) + ", " + hex(regionEnd)
          + ") is not page-aligned");
    }
    if (Long.compareUnsigned(regionStart, regionEnd) >= 0) {
      throw new IllegalArgumentException("table region [" + hex(regionStart) + ", " + hex(regionEnd) + ") is empty");
    }
    if (Long.compareUnsigned(regionEnd, memory.byteSize()) > 0) {
      throw new IllegalArgumentException("table region [" + hex(regionStart) + ", " + hex(regionEnd)
          + ") ends past the memory's " + hex(memory.byteSize()) + " bytes");
    }
    return new PageTableBuilder(memory, regionStart, regionEnd);
  }

  /** The physical address of the root (PML4): the value for {@code MADV_SETMAP} and CR3. */
  public long root() {
    return root;
  }

  /** The memory the tables are written to. */
  public MemorySegment memory() {
    return memory;
  }

  /** The start of the table region. */
  public long tableRegionStart() {
    return regionStart;
  }

  /** The end of the table region, exclusive. */
  public long tableRegionEnd() {
    return regionEnd;
  }

  /** The flags new table entries get ({@link #DEFAULT_TABLE_FLAGS} unless changed). */
  public long tableFlags() {
    return tableFlags;
  }

  /**
   * Sets the flags of the table entries {@link #map} creates from now on (entries that exist
   * keep theirs: change those with {@link #set}/{@link #clear}).
   *
   * @throws IllegalArgumentException if {@code flags} has address bits (51:12) set
   */
  public PageTableBuilder tableFlags(long flags) {
    if ((flags & Bits.ADDRESS_MASK) != 0) {
      throw new IllegalArgumentException("table flags " + hex(flags) + " have address bits (51:12) set");
    }
    this.tableFlags = flags;
    return this;
  }

  /**
   * Allocates a zeroed 4 KiB frame from the table region (for a table, or any page a test wants
   * out of its way) and returns its physical address.
   *
   * @throws IllegalStateException if the region is full
   */
  public long allocateFrame() {
    if (Long.compareUnsigned(regionEnd - next, PAGE) < 0) {
      throw new IllegalStateException("the table region [" + hex(regionStart) + ", " + hex(regionEnd) + ") is full");
    }
    long frame = next;
    next += PAGE;
    memory.asSlice(frame, PAGE).fill((byte) 0);
    return frame;
  }

  private long allocateTable(Level level) {
    long frame = allocateFrame();
    tables.put(frame, level);
    return frame;
  }

  /**
   * Maps the page of {@code size} at {@code va} to the frame at {@code frame}: creates the
   * missing tables on the way (entries {@code table | tableFlags()}) and writes the leaf {@code
   * frame | flags}, with {@link Bits#PS} added for 2 MiB and 1 GiB pages. {@code flags} may hold
   * any bits (reserved ones, a protection key, {@link Bits#PAT_LARGE}) except address bits the
   * frame has set.
   *
   * @throws IllegalArgumentException if {@code va} is not canonical, is in the service's slot
   *     511, or is not aligned to the size; if {@code frame} is not aligned, is outside the
   *     memory or overlaps the table region; if {@code flags} overlaps the frame's address bits;
   *     if the page overlaps an existing mapping (a leaf already there, a large page above it,
   *     tables below it); if the walk meets an entry that is not present but not zero or that
   *     points to a table this builder did not make for that level (a raw edit, a self-map)
   */
  public PageTableBuilder map(long va, long frame, PageSize size, long flags) {
    checkVa(va);
    long bytes = size.bytes();
    if ((va & (bytes - 1)) != 0) {
      throw new IllegalArgumentException("virtual address " + hex(va) + " is not aligned to " + describe(size));
    }
    if (Long.compareUnsigned(frame, MAX_PHYSICAL) >= 0 || (frame & (bytes - 1)) != 0) {
      throw new IllegalArgumentException("frame " + hex(frame) + " is not a " + describe(size)
          + "-aligned physical address below 2^52");
    }
    if (Long.compareUnsigned(memory.byteSize(), frame) < 0 || Long.compareUnsigned(memory.byteSize() - frame, bytes) < 0) {
      throw new IllegalArgumentException("frame [" + hex(frame) + ", " + hex(frame + bytes) + ") is outside the memory ("
          + hex(memory.byteSize()) + " bytes): the service maps only the object's offsets");
    }
    if (Long.compareUnsigned(frame, regionEnd) < 0 && Long.compareUnsigned(frame + bytes, regionStart) > 0) {
      throw new IllegalArgumentException("frame [" + hex(frame) + ", " + hex(frame + bytes) + ") overlaps the table region ["
          + hex(regionStart) + ", " + hex(regionEnd) + ")");
    }
    if ((flags & frame) != 0) {
      throw new IllegalArgumentException("flags " + hex(flags) + " overlap the frame address " + hex(frame));
    }
    long leaf = frame | flags | (size == PageSize.SIZE_4K ? 0 : Bits.PS);
    install(va, size.leafLevel(), leaf);
    return this;
  }

  /**
   * Maps {@code va} to the same frame, with the same leaf entry (size, flags), as {@code
   * existing}: two virtual addresses for one page.
   *
   * @throws IllegalArgumentException if {@code existing} has no leaf, or {@code va} cannot take
   *     a page of that size (as for {@link #map})
   */
  public PageTableBuilder alias(long va, long existing) {
    checkVa(existing);
    WalkEntry leaf = lastOnWalk(existing);
    if (!leaf.leaf() || leaf.value() == 0) {
      throw new IllegalArgumentException(hex(existing) + " has no leaf to alias: its walk ends at " + leaf);
    }
    checkVa(va);
    if ((va & (leaf.level().span() - 1)) != 0) {
      throw new IllegalArgumentException("virtual address " + hex(va) + " is not aligned to the "
          + sizeText(leaf.level().span()) + " page it should alias");
    }
    install(va, leaf.level(), leaf.value());
    return this;
  }

  /**
   * Points root entry {@code slot} at the root itself, with {@code flags}: a self-map through
   * which the tables appear as pages (the PML4 at the address whose four indices are all
   * {@code slot}).
   *
   * @throws IllegalArgumentException if {@code slot} is not in 0..510, the entry is not zero,
   *     or {@code flags} has address bits
   */
  public PageTableBuilder selfMap(int slot, long flags) {
    if (slot < 0 || slot >= SERVICE_SLOT) {
      throw new IllegalArgumentException("root slot " + slot + " is not in 0..510 (511 is the service's)");
    }
    if ((flags & Bits.ADDRESS_MASK) != 0) {
      throw new IllegalArgumentException("flags " + hex(flags) + " have address bits (51:12) set");
    }
    long at = root + 8L * slot;
    if (read(at) != 0) {
      throw new IllegalArgumentException("root slot " + slot + " is in use: " + Bits.describe(read(at)));
    }
    write(at, root | flags);
    return this;
  }

  /**
   * The virtual address at which a self-map in {@code slot} shows the table that holds the
   * entry of {@code va} at {@code level} (the address of that entry is this plus 8 times its
   * index).
   *
   * @throws IllegalArgumentException if {@code slot} is not in 0..510
   */
  public static long selfMappedTable(int slot, long va, Level level) {
    if (slot < 0 || slot >= SERVICE_SLOT) {
      throw new IllegalArgumentException("root slot " + slot + " is not in 0..510");
    }
    long la = va & ((1L << 48) - 1);
    // Shift the address right by 9 per level above the PTE's table, filling with the slot.
    long addr = la >>> 12 << 12;
    for (int n = 1; n <= level.number(); n++) {
      addr = (addr >>> 9) | ((long) slot << 39);
    }
    addr &= ~(PAGE - 1);
    return addr << 16 >> 16;
  }

  /**
   * The entry of {@code va} at {@code level}, following the present non-leaf entries above it
   * as they are in memory now.
   *
   * @throws IllegalArgumentException if {@code va} is not canonical, or the walk stops above
   *     {@code level} (an entry that is not present, a large leaf, a table outside the memory)
   */
  public long entry(long va, Level level) {
    return read(entryAddress(va, level));
  }

  /**
   * Writes {@code value} as the entry of {@code va} at {@code level}, as it is: any bits.
   *
   * @throws IllegalArgumentException as {@link #entryAddress}, or for the service's root entry 511
   */
  public PageTableBuilder entry(long va, Level level, long value) {
    long at = entryAddress(va, level);
    if (at == root + 8L * SERVICE_SLOT) {
      throw new IllegalArgumentException("entry 511 of the root is the service's");
    }
    write(at, value);
    return this;
  }

  /** Sets {@code bits} in the entry of {@code va} at {@code level} (see {@link #entry(long, Level, long)}). */
  public PageTableBuilder set(long va, Level level, long bits) {
    return entry(va, level, entry(va, level) | bits);
  }

  /** Clears {@code bits} in the entry of {@code va} at {@code level} (see {@link #entry(long, Level, long)}). */
  public PageTableBuilder clear(long va, Level level, long bits) {
    return entry(va, level, entry(va, level) & ~bits);
  }

  /**
   * The physical address of the entry of {@code va} at {@code level}.
   *
   * @throws IllegalArgumentException if {@code va} is not canonical or the walk stops above
   *     {@code level}
   */
  public long entryAddress(long va, Level level) {
    checkCanonical(va);
    long table = root;
    for (Level l = Level.PML4E; ; l = l.below()) {
      long at = table + 8L * l.index(va);
      if (l == level) {
        return at;
      }
      long e = read(at);
      WalkEntry we = new WalkEntry(l, at, e);
      if (!we.present() || we.leaf()) {
        throw new IllegalArgumentException("the walk of " + hex(va) + " stops at " + we + ", above its " + level);
      }
      table = e & Bits.ADDRESS_MASK;
      if (Long.compareUnsigned(table, memory.byteSize() - PAGE) > 0) {
        throw new IllegalArgumentException("the walk of " + hex(va) + " leaves the memory at " + we);
      }
    }
  }

  /**
   * The entries the walk of {@code va} reads, PML4E first, as they are in memory now: down to
   * the first entry that is not present or is a leaf (or that points outside the memory).
   * Reserved bits do not stop it.
   *
   * @throws IllegalArgumentException if {@code va} is not canonical
   */
  public List<WalkEntry> walk(long va) {
    checkCanonical(va);
    List<WalkEntry> out = new ArrayList<>(4);
    long table = root;
    for (Level l = Level.PML4E; l != null; l = l.below()) {
      long at = table + 8L * l.index(va);
      WalkEntry e = new WalkEntry(l, at, read(at));
      out.add(e);
      table = e.value() & Bits.ADDRESS_MASK;
      if (!e.present() || e.leaf() || Long.compareUnsigned(table, memory.byteSize() - PAGE) > 0) {
        break;
      }
    }
    return List.copyOf(out);
  }

  /**
   * Where {@code va} leads as the tables are now, ignoring permissions and reserved bits (the
   * address field is taken as bits 51:12, as written): the physical address, or empty if an
   * entry on the walk is not present or it leads outside the memory.
   *
   * @throws IllegalArgumentException if {@code va} is not canonical
   */
  public OptionalLong physicalAddress(long va) {
    List<WalkEntry> w = walk(va);
    WalkEntry last = w.get(w.size() - 1);
    if (!last.present() || !last.leaf()) {
      return OptionalLong.empty();
    }
    long span = last.level().span();
    long frame = last.value() & Bits.ADDRESS_MASK & ~(span - 1);
    long pa = frame | (va & (span - 1));
    return Long.compareUnsigned(pa, memory.byteSize()) < 0 ? OptionalLong.of(pa) : OptionalLong.empty();
  }

  private WalkEntry lastOnWalk(long va) {
    List<WalkEntry> w = walk(va);
    return w.get(w.size() - 1);
  }

  /** Creates the tables down to {@code leafLevel} and writes {@code leaf} there, or changes nothing. */
  private void install(long va, Level leafLevel, long leaf) {
    // First check the whole path, so a refused request changes nothing.
    long table = root;
    Level l = Level.PML4E;
    for (; l != leafLevel; l = l.below()) {
      long at = table + 8L * l.index(va);
      long e = read(at);
      if (e == 0) {
        break; // the rest of the path is new
      }
      WalkEntry we = new WalkEntry(l, at, e);
      if (!we.present()) {
        throw new IllegalArgumentException("cannot map " + hex(va) + ": its " + we + " is not present (but not zero)");
      }
      if (we.leaf()) {
        throw new IllegalArgumentException("cannot map " + hex(va) + " as a " + sizeText(leafLevel.span())
            + " page: it overlaps the " + sizeText(l.span()) + " page of " + we);
      }
      long next = e & Bits.ADDRESS_MASK;
      if (tables.get(next) != l.below()) {
        throw new IllegalArgumentException("cannot map " + hex(va) + ": its " + we
            + " points to " + hex(next) + ", not to a " + l.below() + " table this builder made (a self-map or a raw edit)");
      }
      table = next;
    }
    if (l == leafLevel) {
      long at = table + 8L * l.index(va);
      long e = read(at);
      if (e != 0) {
        WalkEntry we = new WalkEntry(l, at, e);
        throw new IllegalArgumentException(hex(va) + " is already mapped: " + we
            + (we.present() && !we.leaf() ? " (a table of smaller pages)" : "")
            + "; change it with entry(va, level, value)");
      }
    } else {
      int needed = l.number() - leafLevel.number();
      if (Long.compareUnsigned(regionEnd - next, needed * PAGE) < 0) {
        throw new IllegalStateException("the table region [" + hex(regionStart) + ", " + hex(regionEnd)
            + ") is full: " + needed + " more tables needed to map " + hex(va));
      }
    }
    // Then write it.
    table = root;
    for (l = Level.PML4E; l != leafLevel; l = l.below()) {
      long at = table + 8L * l.index(va);
      long e = read(at);
      if (e == 0) {
        long t = allocateTable(l.below());
        write(at, t | tableFlags);
        e = t;
      }
      table = e & Bits.ADDRESS_MASK;
    }
    write(table + 8L * leafLevel.index(va), leaf);
  }

  private static void checkCanonical(long va) {
    if ((va << 16 >> 16) != va) {
      throw new IllegalArgumentException("virtual address " + hex(va) + " is not canonical (bits 63:47 differ)");
    }
  }

  private static void checkVa(long va) {
    checkCanonical(va);
    if (Level.PML4E.index(va) == SERVICE_SLOT) {
      throw new IllegalArgumentException("virtual address " + hex(va) + " is in root slot 511, the service's");
    }
  }

  private long read(long at) {
    return memory.get(ValueLayout.JAVA_LONG_UNALIGNED, at);
  }

  private void write(long at, long value) {
    memory.set(ValueLayout.JAVA_LONG_UNALIGNED, at, value);
  }

  private static String describe(PageSize size) {
    return sizeText(size.bytes());
  }

  private static String sizeText(long bytes) {
    return bytes >= 1L << 30 ? (bytes >> 30) + " GiB" : bytes >= 1L << 20 ? (bytes >> 20) + " MiB" : (bytes >> 10) + " KiB";
  }

  static String hex(long v) {
    return "0x" + Long.toHexString(v);
  }
}
