package org.vmspace.rbtree;

import java.util.Comparator;
import java.util.ConcurrentModificationException;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.function.ToIntFunction;

/**
 * An intrusive red-black tree: BSD's {@code RB_*} operations over elements that extend {@link
 * RbNode}, ordered by a comparator, with an optional augmentation kept correct through every
 * insertion, removal and rotation.
 *
 * <p>Lookups take a <em>probe</em>: a function that compares the key sought with a node,
 * returning a negative number if the key is smaller than the node, zero if it matches and a
 * positive number if it is larger (the sign convention of {@code compare(key, node)}). Keys
 * never need to be materialised as nodes.
 *
 * <p>Not thread-safe: callers synchronise, except for {@link #findRacy}, which is designed for
 * optimistic readers.
 *
 * @param <N> the element type
 */
public final class RbTree<N extends RbNode<N>> implements Iterable<N> {

  /**
   * Keeps a per-node summary of its subtree (for example the largest free gap below it). The
   * tree calls {@link #recompute} on a node whenever its children changed, children first.
   *
   * @param <N> the element type
   */
  @FunctionalInterface
  public interface Augmenter<N> {
    /**
     * Recomputes the node's summary from its own value and its children's summaries.
     *
     * @return whether the stored summary changed
     */
    boolean recompute(N node);
  }

  /** The callback of {@link #scan}: returns a negative number to stop the scan. */
  @FunctionalInterface
  public interface ScanCallback<N> {
    /**
     * Visits a node in the scanned range; may remove it, or any other node, from the tree.
     *
     * @return a negative value to stop the scan (returned by {@link #scan}), otherwise a count
     *     added to the scan's result
     */
    int visit(N node);
  }

  /**
   * Compares a {@code long} key with a node, as a probe of {@link #find(ToIntFunction)} compares
   * its captured key: for lookups on a hot path, where a capturing lambda would be one allocation
   * per lookup. A negative result means the key is left of the node.
   *
   * @param <N> the element type
   */
  @FunctionalInterface
  public interface KeyProbe<N> {
    /** The order of {@code key} relative to {@code node}'s key. */
    int compare(long key, N node);
  }

  /** The longest path a racy reader follows before giving up: deeper than any valid tree. */
  private static final int MAX_RACY_STEPS = 2 * 64 + 8;

  private final Comparator<? super N> order;
  private final Augmenter<? super N> augmenter;
  private N root;
  private int size;
  private int modCount;
  /** In-progress scans, so that removals can move their cursors (DragonFly's rb_scan_info). */
  private ScanCursor<N> scans;

  private static final class ScanCursor<N> {
    N next;
    ScanCursor<N> link;
  }

  /** A tree ordered by {@code order}, without augmentation. */
  public RbTree(Comparator<? super N> order) {
    this(order, null);
  }

  /**
   * A tree ordered by {@code order} whose nodes carry a summary maintained by {@code augmenter}.
   *
   * @param augmenter the augmentation, or {@code null} for none
   */
  public RbTree(Comparator<? super N> order, Augmenter<? super N> augmenter) {
    this.order = Objects.requireNonNull(order, "order");
    this.augmenter = augmenter;
  }

  /** The number of nodes. */
  public int size() {
    return size;
  }

  /** Whether the tree has no nodes. */
  public boolean isEmpty() {
    return root == null;
  }

  /** The root, or {@code null}: the start of augmented searches. */
  public N root() {
    return root;
  }

  // ---------------------------------------------------------------- lookups

  /**
   * Inserts {@code node} unless a node with an equal key is present (BSD {@code RB_INSERT}).
   *
   * @return {@code null} if inserted, otherwise the node already present (the tree is unchanged)
   * @throws IllegalArgumentException if the node is already in a tree
   */
  public N insert(N node) {
    if (node.owner != null) {
      throw new IllegalArgumentException("node is already in a tree: " + node);
    }
    N parent = null;
    N cur = root;
    int cmp = 0;
    while (cur != null) {
      parent = cur;
      cmp = order.compare(node, cur);
      if (cmp < 0) {
        cur = cur.left;
      } else if (cmp > 0) {
        cur = cur.right;
      } else {
        return cur;
      }
    }
    node.left = null;
    node.right = null;
    node.parent = parent;
    node.red = true;
    node.owner = this;
    if (parent == null) {
      root = node;
    } else if (cmp < 0) {
      parent.left = node;
    } else {
      parent.right = node;
    }
    size++;
    modCount++;
    if (augmenter != null) {
      augmenter.recompute(node);
      propagate(parent, true);
    }
    insertFixup(node);
    return null;
  }

  /** The node matching the probe, or {@code null} (BSD {@code RB_FIND}). */
  public N find(ToIntFunction<? super N> probe) {
    N cur = root;
    while (cur != null) {
      int cmp = probe.applyAsInt(cur);
      if (cmp < 0) {
        cur = cur.left;
      } else if (cmp > 0) {
        cur = cur.right;
      } else {
        return cur;
      }
    }
    return null;
  }

  /**
   * {@link #find} for readers that do not hold the lock guarding the tree's writers, with the key
   * passed, not captured: allocates nothing with a probe that captures nothing. It never loops
   * forever and never throws because of a concurrent change; a node it returns matches the key,
   * but under concurrent change it may miss a present node or return one that is being removed.
   * The caller validates (for example with a {@link java.util.concurrent.locks.StampedLock
   * StampedLock} stamp) before trusting a miss.
   */
  public N findRacy(long key, KeyProbe<? super N> probe) {
    N cur = root;
    for (int steps = 0; cur != null && steps < MAX_RACY_STEPS; steps++) {
      int cmp = probe.compare(key, cur);
      if (cmp < 0) {
        cur = cur.left;
      } else if (cmp > 0) {
        cur = cur.right;
      } else {
        return cur;
      }
    }
    return null;
  }

  /** The least node whose key is greater than or equal to the probe's (BSD {@code RB_NFIND}). */
  public N nfind(ToIntFunction<? super N> probe) {
    N cur = root;
    N best = null;
    while (cur != null) {
      int cmp = probe.applyAsInt(cur);
      if (cmp < 0) {
        best = cur;
        cur = cur.left;
      } else if (cmp > 0) {
        cur = cur.right;
      } else {
        return cur;
      }
    }
    return best;
  }

  /** The greatest node whose key is less than or equal to the probe's. */
  public N pfind(ToIntFunction<? super N> probe) {
    N cur = root;
    N best = null;
    while (cur != null) {
      int cmp = probe.applyAsInt(cur);
      if (cmp < 0) {
        cur = cur.left;
      } else if (cmp > 0) {
        best = cur;
        cur = cur.right;
      } else {
        return cur;
      }
    }
    return best;
  }

  /** The least node, or {@code null}. */
  public N first() {
    return root == null ? null : leftmost(root);
  }

  /** The greatest node, or {@code null}. */
  public N last() {
    N cur = root;
    if (cur == null) {
      return null;
    }
    while (cur.right != null) {
      cur = cur.right;
    }
    return cur;
  }

  /** The in-order successor of a node of this tree, or {@code null} (BSD {@code RB_NEXT}). */
  public N next(N node) {
    if (node.right != null) {
      return leftmost(node.right);
    }
    N child = node;
    N p = node.parent;
    while (p != null && child == p.right) {
      child = p;
      p = p.parent;
    }
    return p;
  }

  /** The in-order predecessor of a node of this tree, or {@code null} (BSD {@code RB_PREV}). */
  public N prev(N node) {
    if (node.left != null) {
      N cur = node.left;
      while (cur.right != null) {
        cur = cur.right;
      }
      return cur;
    }
    N child = node;
    N p = node.parent;
    while (p != null && child == p.left) {
      child = p;
      p = p.parent;
    }
    return p;
  }

  private static <N extends RbNode<N>> N leftmost(N n) {
    while (n.left != null) {
      n = n.left;
    }
    return n;
  }

  // ---------------------------------------------------------------- scan

  /**
   * Visits, in order, every node in a contiguous range (DragonFly's {@code RB_SCAN}). The range
   * function returns a negative number for a node below the range, 0 inside it and a positive
   * number above it. The callback may remove the node it visits or any other node; nodes it
   * inserts may or may not be visited.
   *
   * @return the sum of the callback's results, or the first negative result (which stopped the
   *     scan)
   */
  public int scan(ToIntFunction<? super N> range, ScanCallback<? super N> callback) {
    N cur = root;
    N start = null;
    while (cur != null) {
      int cmp = range.applyAsInt(cur);
      if (cmp < 0) {
        cur = cur.right;
      } else {
        if (cmp == 0) {
          start = cur;
        }
        cur = cur.left;
      }
    }
    if (start == null) {
      return 0;
    }
    ScanCursor<N> cursor = new ScanCursor<>();
    cursor.link = scans;
    scans = cursor;
    int total = 0;
    try {
      N node = start;
      while (node != null && range.applyAsInt(node) == 0) {
        cursor.next = next(node);
        int r = callback.visit(node);
        if (r < 0) {
          return r;
        }
        total += r;
        node = cursor.next;
      }
      return total;
    } finally {
      unlinkCursor(cursor);
    }
  }

  private void unlinkCursor(ScanCursor<N> cursor) {
    if (scans == cursor) {
      scans = cursor.link;
      return;
    }
    for (ScanCursor<N> c = scans; c != null; c = c.link) {
      if (c.link == cursor) {
        c.link = cursor.link;
        return;
      }
    }
  }

  // ---------------------------------------------------------------- removal

  /**
   * Removes a node of this tree (BSD {@code RB_REMOVE}).
   *
   * @throws IllegalArgumentException if the node is not in this tree
   */
  public void remove(N z) {
    if (z.owner != this) {
      throw new IllegalArgumentException("node is not in this tree: " + z);
    }
    for (ScanCursor<N> c = scans; c != null; c = c.link) {
      if (c.next == z) {
        c.next = next(z);
      }
    }
    N child;
    N childParent;
    boolean removedRed;
    N lowestChanged;
    if (z.left == null || z.right == null) {
      child = z.left != null ? z.left : z.right;
      childParent = z.parent;
      removedRed = z.red;
      replace(z, child);
      lowestChanged = childParent;
    } else {
      N y = leftmost(z.right);
      removedRed = y.red;
      child = y.right;
      if (y.parent == z) {
        childParent = y;
        lowestChanged = y;
      } else {
        childParent = y.parent;
        lowestChanged = childParent;
        replace(y, child);
        y.right = z.right;
        y.right.parent = y;
      }
      replace(z, y);
      y.left = z.left;
      y.left.parent = y;
      y.red = z.red;
    }
    z.left = null;
    z.right = null;
    z.parent = null;
    z.owner = null;
    size--;
    modCount++;
    if (augmenter != null) {
      propagate(lowestChanged, false);
    }
    if (!removedRed) {
      removeFixup(child, childParent);
    }
  }

  /** Removes every node. Scans in progress end after the current node. */
  public void clear() {
    for (ScanCursor<N> c = scans; c != null; c = c.link) {
      c.next = null;
    }
    clearSubtree(root);
    root = null;
    size = 0;
    modCount++;
  }

  private void clearSubtree(N n) {
    // Iterative: unlink leaves bottom-up without recursion depth concerns.
    while (n != null) {
      if (n.left != null) {
        n = n.left;
      } else if (n.right != null) {
        n = n.right;
      } else {
        N p = n.parent;
        if (p != null) {
          if (p.left == n) {
            p.left = null;
          } else {
            p.right = null;
          }
        }
        n.parent = null;
        n.owner = null;
        n = p;
      }
    }
  }

  /** Puts {@code with} (possibly null) where {@code node} hangs under its parent. */
  private void replace(N node, N with) {
    N p = node.parent;
    if (p == null) {
      root = with;
    } else if (p.left == node) {
      p.left = with;
    } else {
      p.right = with;
    }
    if (with != null) {
      with.parent = p;
    }
  }

  // ---------------------------------------------------------------- augmentation

  /**
   * Recomputes the summary of {@code node} and of each of its ancestors. Call it after changing
   * a value a node's summary depends on without inserting or removing (for example the gap before
   * a node after its predecessor changed).
   */
  public void updateAugmentation(N node) {
    if (augmenter != null) {
      propagate(node, false);
    }
  }

  private void propagate(N from, boolean stopWhenUnchanged) {
    for (N n = from; n != null; n = n.parent) {
      if (!augmenter.recompute(n) && stopWhenUnchanged) {
        return;
      }
    }
  }

  // ---------------------------------------------------------------- balancing

  private void rotateLeft(N x) {
    N y = x.right;
    x.right = y.left;
    if (y.left != null) {
      y.left.parent = x;
    }
    replace(x, y);
    y.left = x;
    x.parent = y;
    if (augmenter != null) {
      augmenter.recompute(x);
      augmenter.recompute(y);
    }
  }

  private void rotateRight(N x) {
    N y = x.left;
    x.left = y.right;
    if (y.right != null) {
      y.right.parent = x;
    }
    replace(x, y);
    y.right = x;
    x.parent = y;
    if (augmenter != null) {
      augmenter.recompute(x);
      augmenter.recompute(y);
    }
  }

  private static boolean isRed(RbNode<?> n) {
    return n != null && n.red;
  }

  private void insertFixup(N z) {
    while (isRed(z.parent)) {
      N p = z.parent;
      N g = p.parent;
      if (p == g.left) {
        N uncle = g.right;
        if (isRed(uncle)) {
          p.red = false;
          uncle.red = false;
          g.red = true;
          z = g;
        } else {
          if (z == p.right) {
            rotateLeft(p);
            z = p;
            p = z.parent;
          }
          p.red = false;
          g.red = true;
          rotateRight(g);
        }
      } else {
        N uncle = g.left;
        if (isRed(uncle)) {
          p.red = false;
          uncle.red = false;
          g.red = true;
          z = g;
        } else {
          if (z == p.left) {
            rotateRight(p);
            z = p;
            p = z.parent;
          }
          p.red = false;
          g.red = true;
          rotateLeft(g);
        }
      }
    }
    root.red = false;
  }

  private void removeFixup(N x, N parent) {
    while (x != root && !isRed(x)) {
      if (x == parent.left) {
        N w = parent.right;
        if (isRed(w)) {
          w.red = false;
          parent.red = true;
          rotateLeft(parent);
          w = parent.right;
        }
        if (!isRed(w.left) && !isRed(w.right)) {
          w.red = true;
          x = parent;
          parent = x.parent;
        } else {
          if (!isRed(w.right)) {
            w.left.red = false;
            w.red = true;
            rotateRight(w);
            w = parent.right;
          }
          w.red = parent.red;
          parent.red = false;
          w.right.red = false;
          rotateLeft(parent);
          x = root;
          parent = null;
        }
      } else {
        N w = parent.left;
        if (isRed(w)) {
          w.red = false;
          parent.red = true;
          rotateRight(parent);
          w = parent.left;
        }
        if (!isRed(w.left) && !isRed(w.right)) {
          w.red = true;
          x = parent;
          parent = x.parent;
        } else {
          if (!isRed(w.left)) {
            w.right.red = false;
            w.red = true;
            rotateLeft(w);
            w = parent.left;
          }
          w.red = parent.red;
          parent.red = false;
          w.left.red = false;
          rotateRight(parent);
          x = root;
          parent = null;
        }
      }
    }
    if (x != null) {
      x.red = false;
    }
  }

  // ---------------------------------------------------------------- iteration

  /**
   * An in-order iterator. It supports {@link Iterator#remove()}; any other change to the tree
   * while iterating makes it throw {@link ConcurrentModificationException}.
   */
  @Override
  public Iterator<N> iterator() {
    return new Iterator<>() {
      private N nextNode = first();
      private N lastReturned;
      private int expectedModCount = modCount;

      @Override
      public boolean hasNext() {
        return nextNode != null;
      }

      @Override
      public N next() {
        if (modCount != expectedModCount) {
          throw new ConcurrentModificationException();
        }
        if (nextNode == null) {
          throw new NoSuchElementException();
        }
        lastReturned = nextNode;
        nextNode = RbTree.this.next(nextNode);
        return lastReturned;
      }

      @Override
      public void remove() {
        if (lastReturned == null) {
          throw new IllegalStateException();
        }
        if (modCount != expectedModCount) {
          throw new ConcurrentModificationException();
        }
        RbTree.this.remove(lastReturned);
        lastReturned = null;
        expectedModCount = modCount;
      }
    };
  }

  // ---------------------------------------------------------------- verification

  /**
   * Checks every red-black property and the augmentation: strict in-order ordering, parent links,
   * a black root, no red node with a red child, the same number of black nodes on every path,
   * the size, and that recomputing any node's summary changes nothing.
   *
   * @throws IllegalStateException describing the first violation found
   */
  public void verify() {
    if (root != null && root.parent != null) {
      throw new IllegalStateException("root has a parent");
    }
    if (isRed(root)) {
      throw new IllegalStateException("root is red");
    }
    int[] count = {0};
    verifySubtree(root, count);
    if (count[0] != size) {
      throw new IllegalStateException("size " + size + " but " + count[0] + " nodes linked");
    }
    N prevNode = null;
    for (N n = first(); n != null; n = next(n)) {
      if (prevNode != null && order.compare(prevNode, n) >= 0) {
        throw new IllegalStateException("order violated: " + prevNode + " before " + n);
      }
      prevNode = n;
    }
  }

  /** Returns the black height of the subtree. */
  private int verifySubtree(N n, int[] count) {
    if (n == null) {
      return 1;
    }
    count[0]++;
    if (n.owner != this) {
      throw new IllegalStateException("node not owned by this tree: " + n);
    }
    if (n.left != null && n.left.parent != n) {
      throw new IllegalStateException("broken parent link below " + n);
    }
    if (n.right != null && n.right.parent != n) {
      throw new IllegalStateException("broken parent link below " + n);
    }
    if (n.red && (isRed(n.left) || isRed(n.right))) {
      throw new IllegalStateException("red node with a red child: " + n);
    }
    int lh = verifySubtree(n.left, count);
    int rh = verifySubtree(n.right, count);
    if (lh != rh) {
      throw new IllegalStateException("black heights differ below " + n + ": " + lh + " vs " + rh);
    }
    if (augmenter != null && augmenter.recompute(n)) {
      throw new IllegalStateException("stale augmentation at " + n);
    }
    return lh + (n.red ? 0 : 1);
  }
}
