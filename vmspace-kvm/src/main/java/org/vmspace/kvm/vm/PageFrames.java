package org.vmspace.kvm.vm;

import java.util.HashMap;
import java.util.Map;
import org.vmspace.kvm.paging.Revocation;

/**
 * The frames of an object's pages by page index, allocated on first touch and kept in
 * 512-entry chunks, so that a large, sparsely used object costs memory for what it uses. Not
 * thread-safe: the owning object synchronizes.
 */
final class PageFrames {
  /** Fills a new frame with its page's contents; false if it cannot (the frame is then freed). */
  @FunctionalInterface
  interface Filler {
    boolean fill(long frame, long index);
  }

  private static final int CHUNK = 512;
  private final PhysicalSpace space;
  private final Map<Long, long[]> chunks = new HashMap<>();

  PageFrames(PhysicalSpace space) {
    this.space = space;
  }

  /** The frame of page {@code index}, or -1 if it has none yet. */
  long get(long index) {
    long[] chunk = index < 0 ? null : chunks.get(index / CHUNK);
    long f = chunk == null ? 0 : chunk[(int) (index % CHUNK)];
    return f == 0 ? -1 : f;
  }

  /**
   * The frame of page {@code index}, allocated and filled now if it has none; -1 without memory
   * or if {@code filler} fails.
   */
  long getOrCreate(long index, Filler filler) {
    long[] chunk = chunks.computeIfAbsent(index / CHUNK, k -> new long[CHUNK]);
    int i = (int) (index % CHUNK);
    if (chunk[i] == 0) {
      long f = space.newFrame();
      if (f < 0) {
        return -1;
      }
      if (!filler.fill(f, index)) {
        // Never mapped, but frames go back only through a revocation.
        Revocation r = new Revocation();
        space.release(f, r);
        space.revoke(r);
        return -1;
      }
      chunk[i] = f;
    }
    return chunk[i];
  }

  /** Releases every frame into {@code revocation} and forgets them. */
  void releaseAll(Revocation revocation) {
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
