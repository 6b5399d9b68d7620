package org.vmspace.rbtree;

/** A test node keyed by a long, with a subtree size as its augmentation. */
final class LongNode extends RbNode<LongNode> {
  final long key;
  int subtreeSize = 1;

  LongNode(long key) {
    this.key = key;
  }

  static final RbTree.Augmenter<LongNode> SUBTREE_SIZE =
      n -> {
        int s = 1 + (n.left() == null ? 0 : n.left().subtreeSize)
            + (n.right() == null ? 0 : n.right().subtreeSize);
        boolean changed = s != n.subtreeSize;
        n.subtreeSize = s;
        return changed;
      };

  static int compare(LongNode a, LongNode b) {
    return Long.compare(a.key, b.key);
  }

  @Override
  public String toString() {
    return "LongNode[" + key + "]";
  }
}
