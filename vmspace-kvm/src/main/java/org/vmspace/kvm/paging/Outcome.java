package org.vmspace.kvm.paging;

import java.util.List;

/**
 * What the architecture says one user-mode access does: whether it faults, the {@code #PF}
 * error code if it does, the physical address if it does not, and each entry the walk reads
 * with the value it must hold afterwards.
 *
 * @param faults whether the access raises {@code #PF}
 * @param errorCode the error code pushed with the fault (P, W/R, U/S, RSVD, I/D, PK bits as in
 *     {@link org.vmspace.api.Trap}); 0 when the access does not fault
 * @param physical the physical address accessed; -1 when the access faults
 * @param walk the entries the walk reads, PML4E first; the last one is where the walk stopped
 *     (a leaf, a non-present entry or one with reserved bits set)
 */
public record Outcome(boolean faults, int errorCode, long physical, List<Step> walk) {
  /** The protection-key bit of the error code. */
  public static final int PF_PK = 0x20;

  public Outcome {
    walk = List.copyOf(walk);
  }

  /**
   * One entry of the walk.
   *
   * @param level its level, 4 (PML4E) to 1 (PTE)
   * @param entryGpa where it is
   * @param before its value before the access
   * @param after the value it must have after the access (accessed and dirty bits set as the
   *     architecture sets them)
   * @param either the bits the architecture leaves open: each may or may not be set afterwards
   *     (the accessed bit of a table entry on a walk that faults, which processors differ on)
   */
  public record Step(int level, long entryGpa, long before, long after, long either) {
    /** Whether {@code actual}, read after the access, is what the architecture allows. */
    public boolean matches(long actual) {
      return ((actual ^ after) & ~either) == 0;
    }
  }

  /** Whether {@code actual}, the entry read after the access, matches step {@code index}. */
  public boolean entryMatches(int index, long actual) {
    return walk.get(index).matches(actual);
  }

  /** The step at {@code level}, or null if the walk stopped above it. */
  public Step step(int level) {
    for (Step s : walk) {
      if (s.level() == level) {
        return s;
      }
    }
    return null;
  }
}
