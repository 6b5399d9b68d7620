package org.vmspace.rbtree;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Seeded random operations on {@link RbTree} checked step by step against {@link TreeMap}, with
 * {@link RbTree#verify()} (every red-black property and the subtree-size augmentation) after each
 * batch. Four seeds of 300,000 operations: 1.2 million in all.
 */
class RbTreePropertyTest {
  private static final int OPERATIONS = 300_000;
  private static final int BATCH = 1_000;

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 42, 0xC0FFEE, 20261123})
  void matchesTreeMap(long seed) {
    RandomGenerator rnd = RandomGeneratorFactory.of("L64X128MixRandom").create(seed);
    RbTree<LongNode> tree = new RbTree<>(LongNode::compare, LongNode.SUBTREE_SIZE);
    TreeMap<Long, LongNode> model = new TreeMap<>();
    Map<Long, LongNode> nodes = new HashMap<>();
    // A key range that drifts keeps the tree growing and shrinking through every shape.
    for (int op = 0; op < OPERATIONS; op++) {
      int range = 64 + (op / 5_000 % 8) * 500;
      long key = rnd.nextLong(range);
      int kind = rnd.nextInt(100);
      String at = "seed " + seed + " op " + op + " key " + key;
      if (kind < 40) {
        LongNode n = new LongNode(key);
        LongNode existing = tree.insert(n);
        if (model.containsKey(key)) {
          assertThat(existing).as(at).isSameAs(model.get(key));
          assertThat(n.isLinked()).as(at).isFalse();
        } else {
          assertThat(existing).as(at).isNull();
          model.put(key, n);
          nodes.put(key, n);
        }
      } else if (kind < 70) {
        LongNode n = model.remove(key);
        if (n != null) {
          tree.remove(n);
          nodes.remove(key);
          assertThat(n.isLinked()).as(at).isFalse();
        }
      } else if (kind < 80) {
        assertThat(tree.find(x -> Long.compare(key, x.key))).as(at).isSameAs(model.get(key));
        assertThat(tree.findRacy(key, (k, x) -> Long.compare(k, x.key))).as(at).isSameAs(model.get(key));
      } else if (kind < 85) {
        Map.Entry<Long, LongNode> e = model.ceilingEntry(key);
        assertThat(tree.nfind(x -> Long.compare(key, x.key)))
            .as(at).isSameAs(e == null ? null : e.getValue());
      } else if (kind < 90) {
        Map.Entry<Long, LongNode> e = model.floorEntry(key);
        assertThat(tree.pfind(x -> Long.compare(key, x.key)))
            .as(at).isSameAs(e == null ? null : e.getValue());
      } else if (kind < 95) {
        LongNode n = model.get(key);
        if (n != null) {
          Map.Entry<Long, LongNode> hi = model.higherEntry(key);
          Map.Entry<Long, LongNode> lo = model.lowerEntry(key);
          assertThat(tree.next(n)).as(at).isSameAs(hi == null ? null : hi.getValue());
          assertThat(tree.prev(n)).as(at).isSameAs(lo == null ? null : lo.getValue());
        }
      } else {
        // Scan a key range, deleting every other visited node from inside the callback.
        long lo = key;
        long hi = key + rnd.nextLong(40);
        List<Long> visited = new ArrayList<>();
        boolean[] flip = {false};
        int total =
            tree.scan(
                x -> x.key < lo ? -1 : x.key > hi ? 1 : 0,
                x -> {
                  visited.add(x.key);
                  flip[0] = !flip[0];
                  if (flip[0]) {
                    tree.remove(x);
                    model.remove(x.key);
                    nodes.remove(x.key);
                  }
                  return 1;
                });
        assertThat(total).as(at).isEqualTo(visited.size());
        assertThat(visited).as(at).isSorted().allMatch(k -> k >= lo && k <= hi);
      }
      assertThat(tree.size()).as(at).isEqualTo(model.size());
      if (op % BATCH == BATCH - 1) {
        tree.verify();
        List<Long> keys = new ArrayList<>();
        tree.forEach(x -> keys.add(x.key));
        assertThat(keys).as(at).containsExactlyElementsOf(model.keySet());
        if (tree.root() != null) {
          assertThat(tree.root().subtreeSize).as(at).isEqualTo(model.size());
        }
      }
    }
    tree.verify();
  }
}
