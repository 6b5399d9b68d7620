package org.vmspace.bench;

import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.vmspace.rbtree.RbNode;
import org.vmspace.rbtree.RbTree;

/** {@link RbTree} find and insert+remove against {@link TreeMap}, over the same keys. */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@State(Scope.Thread)
public class TreeBenchmark {
  @Param({"10000"})
  int size;

  static final class Node extends RbNode<Node> {
    final long key;

    Node(long key) {
      this.key = key;
    }
  }

  private RbTree<Node> tree;
  private TreeMap<Long, Node> map;
  private long[] keys;
  private Node[] spare;
  private int cursor;

  @Setup(Level.Trial)
  public void setUp() {
    tree = new RbTree<>((a, b) -> Long.compare(a.key, b.key));
    map = new TreeMap<>();
    keys = new long[size];
    spare = new Node[size];
    java.util.SplittableRandom rnd = new java.util.SplittableRandom(42);
    for (int i = 0; i < size; i++) {
      long k = rnd.nextLong() & Long.MAX_VALUE;
      keys[i] = k;
      Node n = new Node(k);
      if (tree.insert(n) == null) {
        map.put(k, n);
      }
      spare[i] = new Node(k ^ 1); // keys not present, for insert+remove
    }
  }

  private int next() {
    int i = cursor;
    cursor = i + 1 == size ? 0 : i + 1;
    return i;
  }

  @Benchmark
  public Node rbtreeFind() {
    long k = keys[next()];
    return tree.find(n -> Long.compare(k, n.key));
  }

  @Benchmark
  public Node treemapFind() {
    return map.get(keys[next()]);
  }

  @Benchmark
  public Node rbtreeInsertRemove() {
    Node n = spare[next()];
    if (tree.insert(n) == null) {
      tree.remove(n);
    }
    return n;
  }

  @Benchmark
  public Node treemapInsertRemove() {
    Node n = spare[next()];
    if (map.putIfAbsent(n.key, n) == null) {
      map.remove(n.key);
    }
    return n;
  }
}
