package org.vmspace.kvm.paging;

/**
 * The service's translation of one virtual address through 4-level tables the way the MMU
 * does (4 KiB, 2 MiB and 1 GiB leaves; user, write and no-execute bits combined over the levels,
 * CR0.WP set): the {@link TableWalker} with a visitor that follows one path. Used by lookups,
 * {@code pread}/{@code pwrite} and the fault path on the service's own tables, whose entries
 * never carry reserved bits; {@link AccessModel} is the full architectural model over the same
 * walk.
 */
public final class PageWalker {

  /**
   * The result of a walk.
   *
   * @param leaf the leaf entry, or 0 if the walk stopped at a non-present entry
   * @param level the level of the leaf (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB), or of the non-present
   *     entry
   * @param entryGpa where the leaf (or the non-present entry) is
   * @param user every level allows user access
   * @param writable every level allows writes
   * @param executable no level sets NX
   */
  public record Translation(
      long leaf, int level, long entryGpa, boolean user, boolean writable, boolean executable) {
    /** Whether the walk found a present leaf. */
    public boolean isPresent() {
      return Pte.isPresent(leaf);
    }

    /** The physical address {@code va} translates to (only if present). */
    public long physical(long va) {
      long pageMask = Pte.span(level) - 1;
      return (Pte.address(leaf) & ~pageMask) | (va & pageMask);
    }

    /** Whether a user-mode access of this kind is allowed. */
    public boolean permits(Access access) {
      if (!isPresent() || !user) {
        return false;
      }
      return switch (access) {
        case READ -> true;
        case WRITE -> writable;
        case EXECUTE -> executable;
      };
    }

    /**
     * The {@code #PF} error code the MMU would report for a user-mode access of this kind that
     * this translation does not permit.
     */
    public int faultErrorCode(Access access) {
      int code = 4; // user mode
      if (isPresent()) {
        code |= 1;
      }
      if (access == Access.WRITE) {
        code |= 2;
      }
      if (access == Access.EXECUTE) {
        code |= 0x10;
      }
      return code;
    }
  }

  private final TableWalker walker;

  public PageWalker(TableMemory memory) {
    this.walker = new TableWalker(memory);
  }

  /** Walks the tables under {@code root} (a PML4 address) for {@code va}. */
  public Translation walk(long root, long va) {
    PathVisitor path = new PathVisitor();
    walker.walk(root, va, path);
    return path.result;
  }

  /** Follows the one path of an address, combining the rights of the levels. */
  private static final class PathVisitor implements TableWalker.Visitor {
    private boolean user = true;
    private boolean writable = true;
    private boolean executable = true;
    private Translation result;

    @Override
    public TableWalker.Next visit(long va, int level, long entryGpa, long entry) {
      if (!Pte.isPresent(entry)) {
        result = new Translation(0, level, entryGpa, false, false, false);
        return TableWalker.Next.STOP;
      }
      user &= (entry & Pte.US) != 0;
      writable &= (entry & Pte.RW) != 0;
      executable &= (entry & Pte.NX) == 0;
      if (TableWalker.isLeaf(level, entry)) {
        result = new Translation(entry, level, entryGpa, user, writable, executable);
        return TableWalker.Next.STOP;
      }
      return TableWalker.Next.DESCEND;
    }
  }
}
