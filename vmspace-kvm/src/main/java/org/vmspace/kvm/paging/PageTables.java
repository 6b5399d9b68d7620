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

  private final TableMemory memory;
  private final PageWalker walker;
  private final long root;
  private int tables = 1;

  private PageTables(TableMemory memory, long root) {
    this.memory = memory;
    this.walker = new PageWalker(memory);
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
    for (int i = KERNEL_HALF; i < Pte.ENTRIES; i++) {
      long e = memory.read(kernelRoot + 8L * i);
      if (e != 0) {
        memory.write(root + 8L * i, e);
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
    return walker.walk(root, va);
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
    long table = root;
    for (int level = 4; level > 1; level--) {
      long entryGpa = table + 8L * Pte.index(va, level);
      long entry = memory.read(entryGpa);
      if (!Pte.isPresent(entry)) {
        long fresh = memory.allocateTable();
        if (fresh < 0) {
          return false;
        }
        tables++;
        entry = fresh | Pte.TABLE_FLAGS;
        memory.write(entryGpa, entry);
      } else if ((entry & Pte.PS) != 0) {
        throw new IllegalStateException("a large page covers 0x" + Long.toHexString(va));
      }
      table = Pte.address(entry);
    }
    long leafGpa = table + 8L * Pte.index(va, 1);
    long old = memory.read(leafGpa);
    if (Pte.isPresent(old)) {
      throw new IllegalStateException(
          "leaf for 0x" + Long.toHexString(va) + " is present (" + Pte.toString(old)
              + "): present entries change only through a revocation");
    }
    memory.write(leafGpa, leaf);
    return true;
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
      revokeIn(root, 4, 0, start, end, rewriter, out);
    }
  }

  /**
   * Revokes the entries of {@code table} (at {@code level}, mapping from {@code tableBase}) that
   * intersect {@code [start, end)}.
   *
   * @return whether no entry of the table is present afterwards; only computed (and only
   *     needed) when the table's whole span lies inside the range, false otherwise
   */
  private boolean revokeIn(
      long table, int level, long tableBase, long start, long end, LeafRewriter rewriter, Revocation out) {
    int shift = 12 + 9 * (level - 1);
    long span = 1L << shift;
    int first = (int) ((Math.max(start, tableBase) - tableBase) >>> shift);
    long lastEntry = (Math.min(end, tableBase + (span << 9)) - tableBase + span - 1) >>> shift;
    int lastExclusive = (int) Math.min(level == 4 ? KERNEL_HALF : Pte.ENTRIES, lastEntry);
    boolean empty = level != 4 && tableBase >= start && tableBase + (span << 9) <= end;
    for (int i = first; i < lastExclusive; i++) {
      long entryGpa = table + 8L * i;
      long entry = memory.read(entryGpa);
      if (!Pte.isPresent(entry)) {
        continue;
      }
      long entryBase = tableBase + i * span;
      if (level == 1 || (entry & Pte.PS) != 0) {
        long replacement = rewriter.rewrite(entryBase, entry, out);
        if (replacement != entry) {
          out.store(entryGpa, replacement);
        }
        empty &= !Pte.isPresent(replacement);
        continue;
      }
      long child = Pte.address(entry);
      boolean covered = entryBase >= start && entryBase + span <= end;
      if (revokeIn(child, level - 1, entryBase, start, end, rewriter, out) && covered) {
        out.store(entryGpa, 0);
        out.freeAfter(child);
        tables--;
      } else {
        empty = false;
      }
    }
    return empty;
  }

  /**
   * Everything needed to tear the tables down: every present entry of every table (the root's
   * shared upper half included) becomes 0, every table frame is freed, and each present user
   * leaf is shown to {@code leaves} (which frees the data frames it owns). The tables must not
   * be used afterwards.
   */
  public void revokeAll(Revocation out, LeafRewriter leaves) {
    revokeIn(root, 4, 0, 0, 1L << 47, (va, leaf, o) -> {
      long replacement = leaves.rewrite(va, leaf, o);
      if (replacement != 0) {
        throw new IllegalArgumentException("revokeAll must unmap every leaf");
      }
      return 0;
    }, out);
    for (int i = KERNEL_HALF; i < Pte.ENTRIES; i++) {
      long entryGpa = root + 8L * i;
      if (Pte.isPresent(memory.read(entryGpa))) {
        out.store(entryGpa, 0);
      }
    }
    out.freeAfter(root);
    tables = 0;
  }

  private static void checkUser(long va) {
    if (va < 0 || va >= (1L << 47)) {
      throw new IllegalArgumentException("not a user address: 0x" + Long.toHexString(va));
    }
  }
}
