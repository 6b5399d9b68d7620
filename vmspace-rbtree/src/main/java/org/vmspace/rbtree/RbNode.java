package org.vmspace.rbtree;

/**
 * The links a red-black tree keeps in each of its elements: extend this class to make a type
 * storable in an {@link RbTree}. A node belongs to at most one tree at a time.
 *
 * <p>The link accessors are public so that augmented searches (which descend by subtree
 * summaries rather than by key) can walk the tree; only the tree changes the links.
 *
 * @param <N> the concrete node type
 */
public abstract class RbNode<N extends RbNode<N>> {
  N left;
  N right;
  N parent;
  boolean red;
  RbTree<?> owner;

  /** A node in no tree yet. */
  protected RbNode() {}

  /** The left child, or {@code null}. */
  public final N left() {
    return left;
  }

  /** The right child, or {@code null}. */
  public final N right() {
    return right;
  }

  /** The parent, or {@code null} for the root or a node in no tree. */
  public final N parent() {
    return parent;
  }

  /** Whether the node is currently linked into a tree. */
  public final boolean isLinked() {
    return owner != null;
  }
}
