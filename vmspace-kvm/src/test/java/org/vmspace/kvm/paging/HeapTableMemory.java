package org.vmspace.kvm.paging;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;

/** Page-table memory on the Java heap, for testing the tables without KVM. */
final class HeapTableMemory implements TableMemory {
  private final Map<Long, long[]> pages = new HashMap<>();
  private final Deque<Long> free = new ArrayDeque<>();
  private long next = 0x100000;
  int limit = Integer.MAX_VALUE;
  int allocated;

  @Override
  public long read(long gpa) {
    long[] p = pages.get(gpa & ~0xFFFL);
    return p == null ? 0 : p[(int) ((gpa & 0xFFF) / 8)];
  }

  @Override
  public void write(long gpa, long value) {
    pages.computeIfAbsent(gpa & ~0xFFFL, k -> new long[512])[(int) ((gpa & 0xFFF) / 8)] = value;
  }

  @Override
  public long allocateTable() {
    if (allocated >= limit) {
      return -1;
    }
    allocated++;
    long f = free.isEmpty() ? (next += 0x1000) : free.pop();
    pages.put(f, new long[512]);
    return f;
  }

  /** Applies a revocation's stores as the guest would, and frees its frames. */
  void apply(Revocation r) {
    for (int i = 0; i < r.storeCount(); i++) {
      write(r.entryGpa(i), r.value(i));
    }
    for (int i = 0; i < r.frameCount(); i++) {
      long f = r.frames()[i];
      if (pages.containsKey(f)) {
        for (long e : pages.get(f)) {
          if (e != 0) {
            throw new AssertionError("freed table 0x" + Long.toHexString(f) + " still has entries");
          }
        }
        allocated--;
        free.push(f);
      }
    }
  }
}
