package org.vmspace.api;

/**
 * The {@code behav} values of {@code vmspace_mcontrol}: madvise(2)'s advice plus DragonFly's
 * two control operations, {@link #MADV_INVAL} and {@link #MADV_SETMAP}.
 *
 * <p>Values below 0 or above {@link #MADV_CONTROL_END} are rejected with {@link Errno#EINVAL}.
 */
public final class Madvise {
  /** No special treatment (advisory). */
  public static final int MADV_NORMAL = 0;
  /** Expect random access (advisory). */
  public static final int MADV_RANDOM = 1;
  /** Expect sequential access (advisory). */
  public static final int MADV_SEQUENTIAL = 2;
  /** Populate the range now. */
  public static final int MADV_WILLNEED = 3;
  /** Drop the pages; anonymous private memory reads back as zero. */
  public static final int MADV_DONTNEED = 4;
  /** Drop the pages, like {@link #MADV_DONTNEED}. */
  public static final int MADV_FREE = 5;
  /** Advisory. */
  public static final int MADV_NOSYNC = 6;
  /** Advisory. */
  public static final int MADV_AUTOSYNC = 7;
  /** Advisory. */
  public static final int MADV_NOCORE = 8;
  /** Advisory. */
  public static final int MADV_CORE = 9;
  /** Make the caller's edits of its {@code MAP_VPAGETABLE} page tables take effect. */
  public static final int MADV_INVAL = 10;
  /** Set the root of a {@code MAP_VPAGETABLE} range's page tables to {@code value}. */
  public static final int MADV_SETMAP = 11;
  /**
   * Back the range with large leaves where it can: a demand fault in it maps its whole aligned
   * 2 MiB block at once (the pages the mapping covers), instead of growing from a small block
   * as sequential touches show. Linux's {@code MADV_HUGEPAGE} (14) for a vkernel. Kept across
   * splits, forks and mprotect of the pieces; a fresh mapping has no advice.
   */
  public static final int MADV_HUGEPAGE = 12;
  /**
   * Never map more than the small base block around a demand fault in the range, however
   * sequential the touches: for memory where speculation wastes frames. Linux's {@code
   * MADV_NOHUGEPAGE} (15). Replaces {@link #MADV_HUGEPAGE} and is replaced by it.
   */
  public static final int MADV_NOHUGEPAGE = 13;
  /** The largest valid value. */
  public static final int MADV_CONTROL_END = MADV_NOHUGEPAGE;

  private static final String[] NAMES = {
    "MADV_NORMAL", "MADV_RANDOM", "MADV_SEQUENTIAL", "MADV_WILLNEED", "MADV_DONTNEED",
    "MADV_FREE", "MADV_NOSYNC", "MADV_AUTOSYNC", "MADV_NOCORE", "MADV_CORE", "MADV_INVAL",
    "MADV_SETMAP", "MADV_HUGEPAGE", "MADV_NOHUGEPAGE",
  };

  private Madvise() {}

  /** The name of a behaviour, or its number if it is not one. */
  public static String name(int behav) {
    return behav >= 0 && behav <= MADV_CONTROL_END ? NAMES[behav] : Integer.toString(behav);
  }
}
