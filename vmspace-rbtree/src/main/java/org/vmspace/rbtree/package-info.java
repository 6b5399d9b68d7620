/**
 * An intrusive red-black tree in the style of BSD's {@code <sys/tree.h>}: elements extend {@link
 * org.vmspace.rbtree.RbNode}, the tree links them, and an optional {@link
 * org.vmspace.rbtree.RbTree.Augmenter} keeps a per-subtree summary (such as the largest free gap
 * of an address map) correct through every rotation.
 */
package org.vmspace.rbtree;
