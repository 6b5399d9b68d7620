package org.vmspace.kvm.vm;

import java.util.ArrayList;
import java.util.List;
import org.vmspace.rbtree.RbTree;

/**
 * The entries of one address space, ordered by start on the project's red-black tree. Each node
 * keeps the free gap before it and the largest gap of its subtree, so {@link #findSpace} places a
 * mapping in O(log n). Entries never overlap. Not thread-safe: the vmspace's lock guards it.
 */
final class AddressMap {
  // Gaps, lengths and addresses are unsigned 64-bit values: every comparison is unsigned and
  // no sum is formed that could wrap (a length near 2^63 once made "at + len" negative, and a
  // huge mapping was placed over others).
  private static final RbTree.Augmenter<VmEntry> MAX_GAP =
      n -> {
        long m = n.gapBefore;
        if (n.left() != null && Long.compareUnsigned(n.left().maxGap, m) > 0) {
          m = n.left().maxGap;
        }
        if (n.right() != null && Long.compareUnsigned(n.right().maxGap, m) > 0) {
          m = n.right().maxGap;
        }
        boolean changed = m != n.maxGap;
        n.maxGap = m;
        return changed;
      };

  private final RbTree<VmEntry> tree =
      new RbTree<>((a, b) -> Long.compareUnsigned(a.start, b.start), MAX_GAP);
  private final long limit;

  /** @param limit the end of the user range (exclusive) */
  AddressMap(long limit) {
    this.limit = limit;
  }

  int size() {
    return tree.size();
  }

  /** The entry containing {@code va}, or null. */
  VmEntry find(long va) {
    VmEntry e = tree.pfind(n -> Long.compareUnsigned(va, n.start));
    return e != null && Long.compareUnsigned(va, e.end) < 0 ? e : null;
  }

  /** The first entry ending after {@code va}, or null. */
  VmEntry firstEndingAfter(long va) {
    VmEntry e = tree.pfind(n -> Long.compareUnsigned(va, n.start));
    if (e != null && Long.compareUnsigned(va, e.end) < 0) {
      return e;
    }
    return e == null ? tree.first() : tree.next(e);
  }

  VmEntry next(VmEntry e) {
    return tree.next(e);
  }

  /** Whether {@code [start, end)} intersects no entry. */
  boolean isFree(long start, long end) {
    VmEntry e = firstEndingAfter(start);
    return e == null || Long.compareUnsigned(e.start, end) >= 0;
  }

  /** Whether {@code [start, end)} is covered by entries without holes. */
  boolean isFullyMapped(long start, long end) {
    long at = start;
    VmEntry e = find(start);
    while (e != null && Long.compareUnsigned(at, end) < 0) {
      if (e.start != at && Long.compareUnsigned(e.start, at) > 0) {
        return false;
      }
      at = e.end;
      if (Long.compareUnsigned(at, end) >= 0) {
        return true;
      }
      e = tree.next(e);
    }
    return Long.compareUnsigned(at, end) >= 0;
  }

  /** The value {@link #findSpace} returns when nothing fits (never a page-aligned address). */
  static final long NO_SPACE = -1;

  /**
   * The lowest address at or above {@code hint} and {@code floor} (unsigned) where {@code len}
   * bytes fit entirely below {@link #limit}, or {@link #NO_SPACE}. The result is page-aligned
   * when {@code hint}, {@code floor} and the entries are. {@code len} is unsigned: a length
   * larger than the user range never fits, whatever its sign as a Java long.
   */
  long findSpace(long len, long hint, long floor) {
    long from = Long.compareUnsigned(hint, floor) >= 0 ? hint : floor;
    // from + len <= limit, written so that nothing wraps.
    if (len == 0 || Long.compareUnsigned(len, limit) > 0 || Long.compareUnsigned(from, limit - len) > 0) {
      return NO_SPACE;
    }
    long at = search(tree.root(), len, from);
    if (at != NO_SPACE) {
      return at;
    }
    VmEntry last = tree.last();
    long lastEnd = last == null ? 0 : last.end;
    long tail = Long.compareUnsigned(lastEnd, from) >= 0 ? lastEnd : from;
    return Long.compareUnsigned(tail, limit - len) <= 0 ? tail : NO_SPACE;
  }

  /** First fit in the gaps before the nodes of {@code n}'s subtree, at or above {@code from}. */
  private long search(VmEntry n, long len, long from) {
    if (n == null || Long.compareUnsigned(n.maxGap, len) < 0) {
      return NO_SPACE;
    }
    if (n.left() != null && Long.compareUnsigned(from, n.start) < 0) {
      long r = search(n.left(), len, from);
      if (r != NO_SPACE) {
        return r;
      }
    }
    long gapStart = n.start - n.gapBefore;
    long at = Long.compareUnsigned(gapStart, from) >= 0 ? gapStart : from;
    // [at, at + len) fits before n: at <= n.start and n.start - at >= len (no sum to wrap).
    if (Long.compareUnsigned(at, n.start) <= 0 && Long.compareUnsigned(n.start - at, len) >= 0) {
      return at;
    }
    return search(n.right(), len, from);
  }

  /** Adds an entry over a free range. */
  void insert(VmEntry e) {
    VmEntry prev = tree.pfind(n -> Long.compareUnsigned(e.start, n.start));
    e.gapBefore = e.start - (prev == null ? 0 : prev.end);
    if (tree.insert(e) != null) {
      throw new IllegalStateException("overlapping entry at 0x" + Long.toHexString(e.start));
    }
    VmEntry next = tree.next(e);
    if (next != null) {
      next.gapBefore = next.start - e.end;
      tree.updateAugmentation(next);
    }
  }

  /** Removes an entry. */
  void remove(VmEntry e) {
    VmEntry prev = tree.prev(e);
    VmEntry next = tree.next(e);
    tree.remove(e);
    if (next != null) {
      next.gapBefore = next.start - (prev == null ? 0 : prev.end);
      tree.updateAugmentation(next);
    }
  }

  /**
   * Removes the parts of entries inside {@code [start, end)}, splitting entries that straddle
   * the bounds.
   *
   * @return the removed pieces, in order (each a separate entry no longer in the map)
   */
  List<VmEntry> cut(long start, long end) {
    List<VmEntry> removed = new ArrayList<>();
    VmEntry e = firstEndingAfter(start);
    while (e != null && Long.compareUnsigned(e.start, end) < 0) {
      VmEntry next = tree.next(e);
      remove(e);
      // The removed piece carries e's reference to its object; kept pieces take their own.
      if (Long.compareUnsigned(e.start, start) < 0) {
        insert(piece(e, e.start, start));
        if (e.object != null) {
          e.object.addMapping();
        }
      }
      if (Long.compareUnsigned(e.end, end) > 0) {
        insert(piece(e, end, e.end));
        if (e.object != null) {
          e.object.addMapping();
        }
      }
      removed.add(piece(e, Math.max(e.start, start), Math.min(e.end, end)));
      e = next;
    }
    return removed;
  }

  private static VmEntry piece(VmEntry e, long s, long t) {
    return e.piece(s, t, e.prot);
  }

  /** The entries in address order (a copy). */
  List<VmEntry> entries() {
    List<VmEntry> list = new ArrayList<>(tree.size());
    tree.forEach(list::add);
    return list;
  }

  /**
   * Checks the tree, the gap augmentation and the map's invariants: entries non-empty, in order,
   * never overlapping, all inside {@code [0, limit)}.
   *
   * @throws IllegalStateException naming the first entry that breaks one
   */
  void verify() {
    tree.verify();
    long prevEnd = 0;
    for (VmEntry e : tree) {
      if (e.gapBefore != e.start - prevEnd
          || Long.compareUnsigned(e.start, prevEnd) < 0
          || Long.compareUnsigned(e.end, e.start) <= 0
          || Long.compareUnsigned(e.end, limit) > 0) {
        throw new IllegalStateException("bad entry " + e + " after end 0x" + Long.toHexString(prevEnd)
            + " (user limit 0x" + Long.toHexString(limit) + ")");
      }
      prevEnd = e.end;
    }
  }
}
