package org.vmspace.rbtree;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.ConcurrentModificationException;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;

class RbTreeTest {
  private final RbTree<LongNode> tree = new RbTree<>(LongNode::compare, LongNode.SUBTREE_SIZE);

  private List<LongNode> fill(long... keys) {
    List<LongNode> nodes = new ArrayList<>();
    for (long k : keys) {
      LongNode n = new LongNode(k);
      assertThat(tree.insert(n)).isNull();
      nodes.add(n);
    }
    return nodes;
  }

  private List<Long> keys() {
    List<Long> keys = new ArrayList<>();
    tree.forEach(n -> keys.add(n.key));
    return keys;
  }

  @Test
  void emptyTree() {
    assertThat(tree.isEmpty()).isTrue();
    assertThat(tree.first()).isNull();
    assertThat(tree.last()).isNull();
    assertThat(tree.find(n -> 0)).isNull();
    assertThat(tree.scan(n -> 0, n -> 1)).isZero();
    tree.verify();
  }

  @Test
  void insertReturnsTheExistingNodeOnConflict() {
    LongNode a = fill(5).getFirst();
    LongNode b = new LongNode(5);
    assertThat(tree.insert(b)).isSameAs(a);
    assertThat(tree.size()).isEqualTo(1);
    assertThat(b.isLinked()).isFalse();
  }

  @Test
  void nodesCannotBeInTwoTreesOrRemovedFromTheWrongOne() {
    LongNode a = fill(1).getFirst();
    RbTree<LongNode> other = new RbTree<>(LongNode::compare);
    assertThatThrownBy(() -> other.insert(a)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> other.remove(a)).isInstanceOf(IllegalArgumentException.class);
    tree.remove(a);
    assertThatThrownBy(() -> tree.remove(a)).isInstanceOf(IllegalArgumentException.class);
    assertThat(other.insert(a)).isNull();
  }

  @Test
  void ascendingInsertsStayBalanced() {
    for (long k = 0; k < 100_000; k++) {
      tree.insert(new LongNode(k));
    }
    tree.verify();
    assertThat(height(tree.root())).isLessThanOrEqualTo(2 * 17 + 1);
    assertThat(tree.root().subtreeSize).isEqualTo(100_000);
  }

  private static int height(LongNode n) {
    return n == null ? 0 : 1 + Math.max(height(n.left()), height(n.right()));
  }

  @Test
  void findRacyWithAKeyProbeFindsWhatFindFinds() {
    fill(5, 1, 9, 3, 7, 2, 8);
    RbTree.KeyProbe<LongNode> byKey = (key, n) -> Long.compare(key, n.key);
    for (long k = 0; k <= 10; k++) {
      long key = k;
      assertThat(tree.findRacy(key, byKey)).as("key %d", key).isSameAs(tree.find(n -> Long.compare(key, n.key)));
    }
    assertThat(tree.findRacy(7, byKey).key).isEqualTo(7);
    assertThat(tree.findRacy(4, byKey)).isNull();
  }

  @Test
  void nfindAndPfindBracketAKey() {
    fill(10, 20, 30);
    assertThat(tree.nfind(n -> Long.compare(15, n.key)).key).isEqualTo(20);
    assertThat(tree.pfind(n -> Long.compare(15, n.key)).key).isEqualTo(10);
    assertThat(tree.nfind(n -> Long.compare(20, n.key)).key).isEqualTo(20);
    assertThat(tree.nfind(n -> Long.compare(31, n.key))).isNull();
    assertThat(tree.pfind(n -> Long.compare(9, n.key))).isNull();
  }

  @Test
  void scanMayDeleteTheVisitedNodeAndTheNextOne() {
    List<LongNode> nodes = fill(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
    List<Long> visited = new ArrayList<>();
    int total =
        tree.scan(
            n -> n.key < 3 ? -1 : n.key > 8 ? 1 : 0,
            n -> {
              visited.add(n.key);
              tree.remove(n);
              // Also delete the node the scan would visit next.
              LongNode next = tree.find(x -> Long.compare(n.key + 1, x.key));
              if (next != null && n.key % 2 == 1) {
                tree.remove(next);
              }
              return 1;
            });
    assertThat(visited).containsExactly(3L, 5L, 7L);
    assertThat(total).isEqualTo(3);
    assertThat(keys()).containsExactly(1L, 2L, 9L, 10L);
    assertThat(nodes.get(3).isLinked()).isFalse();
    tree.verify();
  }

  @Test
  void scanStopsOnANegativeResult() {
    fill(1, 2, 3, 4, 5);
    List<Long> visited = new ArrayList<>();
    int r = tree.scan(n -> 0, n -> {
      visited.add(n.key);
      return n.key == 3 ? -7 : 1;
    });
    assertThat(r).isEqualTo(-7);
    assertThat(visited).containsExactly(1L, 2L, 3L);
  }

  @Test
  void nestedScansBothSurviveDeletions() {
    fill(1, 2, 3, 4, 5, 6);
    List<String> log = new ArrayList<>();
    tree.scan(
        n -> n.key <= 3 ? 0 : 1,
        outer -> {
          tree.scan(
              n -> n.key < outer.key + 1 ? -1 : n.key > outer.key + 1 ? 1 : 0,
              inner -> {
                log.add(outer.key + ">" + inner.key);
                tree.remove(inner);
                return 1;
              });
          return 1;
        });
    // 1 deletes 2 (so the outer scan skips to 3), 3 deletes 4.
    assertThat(log).containsExactly("1>2", "3>4");
    assertThat(keys()).containsExactly(1L, 3L, 5L, 6L);
    tree.verify();
  }

  @Test
  void iteratorRemovesAndDetectsForeignChanges() {
    fill(1, 2, 3, 4);
    Iterator<LongNode> it = tree.iterator();
    it.next();
    it.remove();
    assertThatThrownBy(it::remove).isInstanceOf(IllegalStateException.class);
    it.next();
    tree.insert(new LongNode(9));
    assertThatThrownBy(it::next).isInstanceOf(ConcurrentModificationException.class);
    assertThat(keys()).containsExactly(2L, 3L, 4L, 9L);
  }

  @Test
  void clearUnlinksEveryNode() {
    List<LongNode> nodes = fill(3, 1, 2);
    tree.clear();
    assertThat(tree.size()).isZero();
    assertThat(nodes).noneMatch(RbNode::isLinked);
    tree.verify();
    assertThat(tree.insert(nodes.getFirst())).isNull();
  }

  @Test
  void verifyDetectsAStaleAugmentation() {
    fill(1, 2, 3);
    tree.root().subtreeSize = 99;
    assertThatThrownBy(tree::verify).hasMessageContaining("stale augmentation");
  }

  @Test
  void verifyDetectsABrokenColouring() {
    fill(1, 2, 3);
    tree.root().red = true;
    assertThatThrownBy(tree::verify).hasMessageContaining("root is red");
  }
}
