package org.vmspace.kvm.paging;

/**
 * The one walk of x86-64 4-level tables over a range of virtual addresses, after gVisor's
 * {@code walker_amd64.go}: it reads each entry of each table that the range touches, top down,
 * and lets a {@link Visitor} decide what to do with it. Every operation on tables is a visitor:
 * the translation of one address ({@link PageWalker}), the installation of a leaf and the
 * rewrite or removal of a range ({@link PageTables}), the re-store of every entry of a range
 * for MADV_INVAL ({@link Restore}), and the reference model of the MMU ({@link AccessModel}).
 *
 * <p>Addresses are the low 48 bits of a virtual address (the walk does not care about the sign
 * extension); ranges are half-open, {@code [start, end)} with {@code end} at most {@code 2^48},
 * compared unsigned. Not thread-safe on its own: the owner of the tables serialises edits.
 */
public final class TableWalker {
  /** The end of the 48-bit space the four levels translate. */
  public static final long SPACE_END = 1L << 48;

  /** What the walker does after a visit. */
  public enum Next {
    /**
     * Walk the table the entry points to, if the entry (read again after the visit, so a
     * visitor may make it present first) is present and not a leaf; otherwise go on.
     */
    DESCEND,
    /** Go on with the next entry of the same table. */
    SKIP,
    /** End the whole walk. */
    STOP
  }

  /** One operation on the tables. */
  public interface Visitor {
    /**
     * An entry of the table at {@code level} (4 = PML4 ... 1 = PT) whose span intersects the
     * range.
     *
     * @param va the first address the entry maps (the start of its span, not clipped to the
     *     range)
     * @param entryGpa where the entry is
     * @param entry its value when read
     */
    Next visit(long va, int level, long entryGpa, long entry);

    /**
     * After the walk of the table under an entry the visitor descended into (not called if
     * the walk stopped inside it).
     *
     * @param entry the entry as it was read before descending
     */
    default void leave(long va, int level, long entryGpa, long entry) {}
  }

  private final TableMemory memory;

  public TableWalker(TableMemory memory) {
    this.memory = memory;
  }

  /** The memory the tables are in. */
  public TableMemory memory() {
    return memory;
  }

  /**
   * Whether {@code entry} at {@code level} is a leaf: a PTE, or a PDE or PDPTE with PS set
   * (PS in a PML4E is reserved, not a leaf).
   */
  public static boolean isLeaf(int level, long entry) {
    return level == 1 || ((level == 2 || level == 3) && (entry & Pte.PS) != 0);
  }

  /**
   * Walks the tables under {@code root} (a PML4 address; its low 12 bits are ignored) over
   * {@code [start, end)}.
   *
   * @return false if a visitor stopped the walk
   * @throws IllegalArgumentException if the range is empty, reversed or past {@code 2^48}
   */
  public boolean walk(long root, long start, long end, Visitor visitor) {
    checkRange(start, end);
    return walkTable(Pte.address(root), 4, 0, start, end, visitor, false);
  }

  /**
   * Walks like {@link #walk(long, long, long, Visitor)}, but shows the visitor only present
   * entries: for visitors that skip the others anyway, which saves a call for each of the many
   * empty entries of a sparse table. Each table's entries in the range are read when the walk
   * enters it (one bulk read), so a visitor may change the entry it visits (the walker reads it
   * again before descending) but must not change other entries of the tables being walked
   * (queue such changes, as a {@link Revocation} does).
   *
   * @return false if a visitor stopped the walk
   * @throws IllegalArgumentException if the range is empty, reversed or past {@code 2^48}
   */
  public boolean walkPresent(long root, long start, long end, Visitor visitor) {
    checkRange(start, end);
    return walkTable(Pte.address(root), 4, 0, start, end, visitor, true);
  }

  private static void checkRange(long start, long end) {
    if (Long.compareUnsigned(start, end) >= 0 || Long.compareUnsigned(end, SPACE_END) > 0) {
      throw new IllegalArgumentException(
          "not a range of the 48-bit space: [0x" + Long.toHexString(start) + ", 0x" + Long.toHexString(end) + ")");
    }
  }

  /** Walks the one address {@code va} (its low 48 bits): at most one entry per level. */
  public boolean walk(long root, long va, Visitor visitor) {
    long la = va & (SPACE_END - 1);
    return walk(root, la, la + 1, visitor);
  }

  private boolean walkTable(long table, int level, long base, long start, long end, Visitor visitor,
      boolean presentOnly) {
    int shift = 12 + 9 * (level - 1);
    long span = 1L << shift;
    long from = Math.max(start, base);
    long to = Math.min(end, base + (span << 9));
    int first = (int) ((from - base) >>> shift);
    int last = (int) ((to - base + span - 1) >>> shift);
    // A present-only walk reads the table's entries of the range at once (a range walk reads
    // most of them anyway); see walkPresent for what that asks of its visitors.
    long[] entries = null;
    if (presentOnly && last - first > 1) {
      entries = new long[last - first];
      memory.readEntries(table + 8L * first, last - first, entries);
    }
    for (int i = first; i < last; i++) {
      long entryGpa = table + 8L * i;
      long read = entries != null ? entries[i - first] : memory.read(entryGpa);
      if (presentOnly && !Pte.isPresent(read)) {
        continue;
      }
      long va = base + i * span;
      Next next = visitor.visit(va, level, entryGpa, read);
      if (next == Next.STOP) {
        return false;
      }
      if (next == Next.DESCEND && level > 1) {
        long entry = memory.read(entryGpa);
        if (Pte.isPresent(entry) && !isLeaf(level, entry)) {
          if (!walkTable(Pte.address(entry), level - 1, va, start, end, visitor, presentOnly)) {
            return false;
          }
          visitor.leave(va, level, entryGpa, entry);
        }
      }
    }
    return true;
  }

  /**
   * The visitor for MADV_INVAL on tables the host must not edit: every entry the range's walks
   * read (present or not, at every level) is stored again with its current value into a
   * {@link Revocation}, once, so that a guest-side store drops any translation cached from it.
   */
  public static final class Restore implements Visitor {
    private final TableMemory memory;
    private final Revocation out;

    /**
     * @param memory the memory the tables are in: an entry outside it (a guest table may point
     *     anywhere) is not stored, since no store of the service may land outside the memory
     *     object, and reads there as not present, so nothing below it is walked either
     */
    public Restore(TableMemory memory, Revocation out) {
      this.memory = memory;
      this.out = out;
    }

    @Override
    public Next visit(long va, int level, long entryGpa, long entry) {
      if (!memory.contains(entryGpa)) {
        return Next.SKIP;
      }
      out.store(entryGpa, entry);
      return Next.DESCEND;
    }
  }
}
