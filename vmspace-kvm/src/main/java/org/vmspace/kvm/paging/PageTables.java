package org.vmspace.kvm.paging;

/**
 * The 4-level page tables of one address space: a PML4 root whose upper half is shared with
 * every other address space of the context (the guest stubs) and whose lower half maps the
 * user range.
 *
 * <p>Host-side writes are used only to make non-present entries present ({@link #install}), the
 * one change every flavour of KVM sees without help. Removals and rewrites of present entries
 * are collected into a {@link Revocation} ({@link #revokeRange}, {@link #revokeAll}) that the
 * execution flavour applies. Not thread-safe: the owner serialises edits.
 */
public final class PageTables {
  /** The first PML4 index of the shared upper half. */
  public static final int KERNEL_HALF = 256;

  /** Decides what each present leaf in a revoked range becomes. */
  @FunctionalInterface
  public interface LeafRewriter {
    /**
     * @param va the virtual address the leaf maps
     * @param leaf the present leaf entry
     * @param out the revocation, to which frames that become free may be added
     * @return the new entry: 0 to unmap, or a present entry (for example with fewer rights)
     */
    long rewrite(long va, long leaf, Revocation out);
  }

  /** Sees each present leaf of a range, read-only ({@link #forEachLeaf}). */
  @FunctionalInterface
  public interface LeafVisitor {
    /**
     * @param va the virtual address the leaf maps
     * @param leaf the present leaf entry
     * @return false to end the walk
     */
    boolean visit(long va, long leaf);
  }

  private final TableMemory memory;
  private final PageWalker translator;
  private final TableWalker walker;
  private final long root;
  private int tables = 1;
  /**
   * The leaf table (PT) the last install stored into, and the first address of the 2 MiB it
   * maps ({@code -1} for none): installs come in runs of neighbouring pages (fault-around, fork,
   * the pages of a cached image), and this saves each of them the walk from the root. Forgotten
   * whenever a table is unlinked.
   */
  private long lastLeafTableVa = -1;
  private long lastLeafTable;

  private PageTables(TableMemory memory, long root) {
    this.memory = memory;
    this.translator = new PageWalker(memory);
    this.walker = new TableWalker(memory);
    this.root = root;
  }

  /**
   * New tables: a zeroed PML4 whose upper half is copied from {@code kernelRoot}.
   *
   * @return the tables, or {@code null} if no frame is available
   */
  public static PageTables create(TableMemory memory, long kernelRoot) {
    long root = memory.allocateTable();
    if (root < 0) {
      return null;
    }
    long[] upper = new long[Pte.ENTRIES - KERNEL_HALF];
    memory.readEntries(kernelRoot + 8L * KERNEL_HALF, upper.length, upper);
    for (int i = 0; i < upper.length; i++) {
      if (upper[i] != 0) {
        memory.write(root + 8L * (KERNEL_HALF + i), upper[i]);
      }
    }
    return new PageTables(memory, root);
  }

  /** The guest-physical address of the PML4: the value for CR3. */
  public long root() {
    return root;
  }

  /** The number of table frames, the root included. */
  public int tableCount() {
    return tables;
  }

  /** The translation of {@code va}. */
  public PageWalker.Translation lookup(long va) {
    return translator.walk(root, va);
  }

  /**
   * Whether {@code va} has a present leaf: {@code lookup(va).isPresent()}, but one read of the
   * entry when {@code va} lies in the leaf table of the last install (a fault-around block asks
   * this of each of its pages right after installing one of them).
   */
  public boolean isPresent(long va) {
    if (va >= 0 && (va & -Pte.span(2)) == lastLeafTableVa) {
      return Pte.isPresent(memory.read(lastLeafTable + 8L * Pte.index(va, 1)));
    }
    return lookup(va).isPresent();
  }

  /**
   * Makes the non-present leaf for the user address {@code va} present, creating the tables
   * above it as needed (host-side stores of non-present entries only).
   *
   * @return false if a table frame could not be allocated (nothing is left half-done: any new
   *     tables stay, empty)
   * @throws IllegalStateException if the leaf is already present, or a large page covers it
   */
  public boolean install(long va, long leaf) {
    checkUser(va);
    long leafTableVa = va & -Pte.span(2);
    if (leafTableVa == lastLeafTableVa) {
      long entryGpa = lastLeafTable + 8L * Pte.index(va, 1);
      storeLeaf(va, entryGpa, memory.read(entryGpa), leaf);
      return true;
    }
    Install install = new Install(leaf);
    walker.walk(root, va, install);
    if (install.outOfMemory) {
      return false;
    }
    lastLeafTableVa = leafTableVa;
    lastLeafTable = install.leafTable;
    return true;
  }

  /**
   * The leaf entries of the {@code count} pages from {@code va}, read with one bulk copy, when
   * they all lie in the leaf table that the last {@link #install} (or {@link #isPresent}) found;
   * null otherwise, and the caller goes a page at a time. For fault-around, whose block is in
   * the leaf table of the page that just faulted.
   */
  public long[] cachedLeafRun(long va, int count) {
    if (!inCachedLeafTable(va, count)) {
      return null;
    }
    long[] entries = new long[count];
    memory.readEntries(lastLeafTable + 8L * Pte.index(va, 1), count, entries);
    return entries;
  }

  /**
   * Makes present, with one bulk store per run of consecutive pages, the leaf of each page
   * {@code va + i * 4096} for which {@code leaves[i]} is not 0. {@code before} is what {@link
   * #cachedLeafRun} read for the same pages, with no edit of the tables since; every page given
   * a leaf must be not present there (host-side stores of non-present entries only, as {@link
   * #install}).
   *
   * @throws IllegalStateException if a leaf would replace a present entry, or the pages are no
   *     longer in the cached leaf table (an edit came between)
   */
  public void installRun(long va, long[] before, long[] leaves) {
    int count = leaves.length;
    if (before.length != count || !inCachedLeafTable(va, count)) {
      throw new IllegalStateException("leaf run at 0x" + Long.toHexString(va) + " is not the one read");
    }
    long first = lastLeafTable + 8L * Pte.index(va, 1);
    int i = 0;
    while (i < count) {
      if (leaves[i] == 0) {
        i++;
        continue;
      }
      int end = i;
      while (end < count && leaves[end] != 0) {
        if (Pte.isPresent(before[end])) {
          throw new IllegalStateException("leaf for 0x" + Long.toHexString(va + end * 4096L) + " is present ("
              + Pte.toString(before[end]) + "): present entries change only through a revocation");
        }
        end++;
      }
      memory.writeEntries(first + 8L * i, leaves, i, end - i);
      i = end;
    }
  }

  /**
   * Makes the leaf table that maps {@code va} the cached one ({@link #cachedLeafRun}), if it
   * exists; creates nothing.
   *
   * @return whether it exists
   */
  public boolean cacheLeafTable(long va) {
    checkUser(va);
    PageWalker.Translation t = lookup(va);
    if (t.level() != 1) {
      return false;
    }
    lastLeafTableVa = va & -Pte.span(2);
    lastLeafTable = t.entryGpa() - 8L * Pte.index(va, 1);
    return true;
  }

  private boolean inCachedLeafTable(long va, int count) {
    long last = va + (count - 1L) * 4096;
    return va >= 0 && count > 0 && count <= Pte.ENTRIES && (va & 0xFFF) == 0
        && (va & -Pte.span(2)) == lastLeafTableVa && (last & -Pte.span(2)) == lastLeafTableVa;
  }

  private void storeLeaf(long va, long entryGpa, long entry, long leaf) {
    if (Pte.isPresent(entry)) {
      throw new IllegalStateException(
          "leaf for 0x" + Long.toHexString(va) + " is present (" + Pte.toString(entry)
              + "): present entries change only through a revocation");
    }
    memory.write(entryGpa, leaf);
  }

  /** The installing visitor: creates missing tables on the path, then stores the leaf. */
  private final class Install implements TableWalker.Visitor {
    private final long leaf;
    private boolean outOfMemory;
    /** The leaf table the leaf went into. */
    private long leafTable;

    Install(long leaf) {
      this.leaf = leaf;
    }

    @Override
    public TableWalker.Next visit(long va, int level, long entryGpa, long entry) {
      if (level == 1) {
        storeLeaf(va, entryGpa, entry, leaf);
        leafTable = entryGpa - 8L * Pte.index(va, 1);
        return TableWalker.Next.STOP;
      }
      if (!Pte.isPresent(entry)) {
        long fresh = memory.allocateTable();
        if (fresh < 0) {
          outOfMemory = true;
          return TableWalker.Next.STOP;
        }
        tables++;
        memory.write(entryGpa, fresh | Pte.TABLE_FLAGS);
      } else if ((entry & Pte.PS) != 0) {
        throw new IllegalStateException("a large page covers 0x" + Long.toHexString(va));
      }
      return TableWalker.Next.DESCEND;
    }
  }

  /**
   * Widens a present leaf in place with a host-side store, without a revocation: allowed only
   * when {@code leaf} keeps the frame and adds rights ({@link Pte#widens}). A vCPU that still
   * caches the old translation holds a narrower one: an access it did not allow faults, the
   * fault path finds the access allowed now and re-enters the guest, and the fault itself drops
   * the stale entry (Linux upgrades permissions without a TLB flush the same way, {@code
   * flush_tlb_fix_spurious_fault}). With shadow paging KVM walks the guest's tables again on
   * such a fault and picks the wider entry up. The accessed and dirty bits the CPU set are kept.
   *
   * @param entryGpa the leaf's entry, from a {@link #lookup} of these tables
   * @return false, storing nothing, if the entry there now is not one that {@code leaf} widens:
   *     the caller must revoke instead
   */
  public boolean widen(long entryGpa, long leaf) {
    long current = memory.read(entryGpa);
    if (!Pte.widens(current, leaf)) {
      return false;
    }
    memory.write(entryGpa, leaf | (current & (Pte.A | Pte.D)));
    return true;
  }

  /**
   * Shows every present leaf in the user range {@code [start, end)} to {@code visitor}, in
   * address order, without changing anything; the visitor may end the walk early.
   *
   * @throws IllegalArgumentException if the range is not in the user half
   */
  public void forEachLeaf(long start, long end, LeafVisitor visitor) {
    checkUser(start);
    if (end > start) {
      checkUser(end - 1);
      walker.walkPresent(root, start, end, (va, level, entryGpa, entry) -> {
        if (!Pte.isPresent(entry)) {
          return TableWalker.Next.SKIP;
        }
        if (!TableWalker.isLeaf(level, entry)) {
          return TableWalker.Next.DESCEND;
        }
        return visitor.visit(va, entry) ? TableWalker.Next.SKIP : TableWalker.Next.STOP;
      });
    }
  }

  /**
   * Rewrites every present leaf in {@code [start, end)} as {@code rewriter} says, into {@code
   * out}. Tables whose whole span lies inside the range and that end up empty are unlinked and
   * freed too.
   */
  public void revokeRange(long start, long end, LeafRewriter rewriter, Revocation out) {
    checkUser(start);
    if (end > start) {
      checkUser(end - 1);
      walker.walkPresent(root, start, end, new Rewrite(start, end, rewriter, out));
    }
  }

  /**
   * The rewriting visitor: each present leaf of the range becomes what the rewriter says (a
   * store in the revocation when it changes), and a table whose whole span lies in the range
   * and that has no present entry left is unlinked and freed after the stores.
   */
  private final class Rewrite implements TableWalker.Visitor {
    private final long start;
    private final long end;
    private final LeafRewriter rewriter;
    private final Revocation out;
    /** Per level: whether the table being walked at that level has no present entry left. */
    private final boolean[] empty = new boolean[5];

    Rewrite(long start, long end, LeafRewriter rewriter, Revocation out) {
      this.start = start;
      this.end = end;
      this.rewriter = rewriter;
      this.out = out;
    }

    @Override
    public TableWalker.Next visit(long va, int level, long entryGpa, long entry) {
      if (!Pte.isPresent(entry)) {
        return TableWalker.Next.SKIP;
      }
      if (TableWalker.isLeaf(level, entry)) {
        long replacement = rewriter.rewrite(va, entry, out);
        if (replacement != entry) {
          out.store(entryGpa, replacement);
        }
        if (Pte.isPresent(replacement)) {
          empty[level] = false;
        }
        return TableWalker.Next.SKIP;
      }
      // Emptiness of the child is needed (and only computed) when the range covers all of it.
      empty[level - 1] = covers(va, Pte.span(level));
      return TableWalker.Next.DESCEND;
    }

    @Override
    public void leave(long va, int level, long entryGpa, long entry) {
      if (empty[level - 1] && covers(va, Pte.span(level))) {
        lastLeafTableVa = -1;
        out.store(entryGpa, 0);
        out.freeAfter(Pte.address(entry));
        tables--;
      } else {
        empty[level] = false;
      }
    }

    private boolean covers(long va, long span) {
      return va >= start && va + span <= end;
    }
  }

  /**
   * Everything needed to tear the tables down: every present entry of every table (the root's
   * shared upper half included) becomes 0, every table frame is freed, and each present user
   * leaf is shown to {@code leaves} (which frees the data frames it owns). The tables must not
   * be used afterwards.
   */
  public void revokeAll(Revocation out, LeafRewriter leaves) {
    revokeRange(0, 1L << 47, (va, leaf, o) -> {
      long replacement = leaves.rewrite(va, leaf, o);
      if (replacement != 0) {
        throw new IllegalArgumentException("revokeAll must unmap every leaf");
      }
      return 0;
    }, out);
    long[] upper = new long[Pte.ENTRIES - KERNEL_HALF];
    memory.readEntries(root + 8L * KERNEL_HALF, upper.length, upper);
    for (int i = 0; i < upper.length; i++) {
      if (Pte.isPresent(upper[i])) {
        out.store(root + 8L * (KERNEL_HALF + i), 0);
      }
    }
    out.freeAfter(root);
    tables = 0;
    lastLeafTableVa = -1;
  }

  private static void checkUser(long va) {
    if (va < 0 || va >= (1L << 47)) {
      throw new IllegalArgumentException("not a user address: 0x" + Long.toHexString(va));
    }
  }
}
