package org.vmspace.kvm.vm;

import org.vmspace.api.MapFlags;
import org.vmspace.api.Prot;
import org.vmspace.rbtree.RbNode;

/**
 * One mapping of an address map: {@code [start, end)} with a protection, the mmap flags and
 * what it maps — private anonymous memory ({@code object == null}) or pages {@code pgoff..} of a
 * {@link VmObject}. Carries the gap augmentation: the free gap before it and the largest gap in
 * its subtree.
 */
final class VmEntry extends RbNode<VmEntry> {
  long start;
  long end;
  final Prot prot;
  final int flags;
  final VmObject object;
  /** The object page that {@link #start} maps. */
  long pgoff;
  long gapBefore;
  long maxGap;
  /**
   * The last fault-around block {@code [aroundStart, aroundEnd)} and its size in pages: a
   * demand fault adjacent to it is sequential and doubles the next block (see {@link
   * Faults#faultAround}). Guarded by the address space's lock; a split entry starts afresh.
   */
  long aroundStart;
  long aroundEnd;
  int aroundPages;
  /**
   * {@link org.vmspace.api.Madvise#MADV_HUGEPAGE}, {@link
   * org.vmspace.api.Madvise#MADV_NOHUGEPAGE} or 0 (no advice): how {@link Faults#faultAround}
   * sizes its blocks. Pieces and fork copies keep it.
   */
  int hugeAdvice;

  VmEntry(long start, long end, Prot prot, int flags, VmObject object, long pgoff) {
    this.start = start;
    this.end = end;
    this.prot = prot;
    this.flags = flags;
    this.object = object;
    this.pgoff = pgoff;
  }

  /**
   * A new entry for {@code [s, t)} of this one, with protection {@code newProt}: what a split,
   * an mprotect or a fork copy inserts. It keeps the flags, the object, the page offset of its
   * start and the huge-page advice, not the fault-around history.
   */
  VmEntry piece(long s, long t, Prot newProt) {
    VmEntry p = new VmEntry(s, t, newProt, flags, object, pgoff + (s - start) / 4096);
    p.hugeAdvice = hugeAdvice;
    return p;
  }

  boolean isShared() {
    return (flags & MapFlags.MAP_SHARED) != 0;
  }

  boolean isVpagetable() {
    return (flags & MapFlags.MAP_VPAGETABLE) != 0;
  }

  /** The object page that {@code va} maps. */
  long pageIndex(long va) {
    return pgoff + (va - start) / 4096;
  }

  @Override
  public String toString() {
    return String.format(
        "[0x%x-0x%x %s %s%s%s]", start, end, prot, MapFlags.toString(flags),
        object == null ? "" : " obj+" + pgoff,
        hugeAdvice == 0 ? "" : " " + org.vmspace.api.Madvise.name(hugeAdvice));
  }
}
