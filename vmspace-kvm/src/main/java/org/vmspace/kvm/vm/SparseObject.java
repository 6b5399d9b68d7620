package org.vmspace.kvm.vm;

import java.util.HashMap;
import java.util.Map;
import org.vmspace.kvm.paging.Revocation;

/**
 * Zero-filled shared memory whose pages are allocated on first touch: the object behind a
 * {@code MAP_SHARED | MAP_ANON} mapping. Pages are kept in 512-entry chunks.
 */
final class SparseObject extends VmObject {
  private static final int CHUNK = 512;
  private final PhysicalSpace space;
  private final long pages;
  private final Map<Long, long[]> chunks = new HashMap<>();

  SparseObject(PhysicalSpace space, long pages) {
    super(false);
    this.space = space;
    this.pages = pages;
  }

  @Override
  public long pages() {
    return pages;
  }

  @Override
  public boolean writable() {
    return true;
  }

  @Override
  public synchronized long frame(long index) {
    long[] chunk = chunks.computeIfAbsent(index / CHUNK, k -> new long[CHUNK]);
    int i = (int) (index % CHUNK);
    if (chunk[i] == 0) {
      long f = space.newFrame();
      if (f < 0) {
        return -1;
      }
      chunk[i] = f;
    }
    return chunk[i];
  }

  @Override
  public synchronized long frameIfPresent(long index) {
    long[] chunk = chunks.get(index / CHUNK);
    long f = chunk == null ? 0 : chunk[(int) (index % CHUNK)];
    return f == 0 ? -1 : f;
  }

  @Override
  protected synchronized void releasePages(Revocation revocation) {
    for (long[] chunk : chunks.values()) {
      for (long f : chunk) {
        if (f != 0) {
          space.release(f, revocation);
        }
      }
    }
    chunks.clear();
  }
}
