package org.vmspace.kvm.memory;

/**
 * Hands out the 4 KiB frames of a range of guest-physical memory, single or contiguous, up to a
 * limit. Every free frame reads as zero: frames are given back only through {@link #free}, whose
 * caller has revoked every translation to them, and {@link #free} discards their contents.
 *
 * <p>A bitmap with a next-fit cursor: O(1) amortised for single frames, a linear search for
 * contiguous runs. Thread-safe.
 */
public final class FrameAllocator {
  private final GuestMemory memory;
  private final long firstFrame;
  private final long frameCount;
  private final long limitFrames;
  private final long[] used;
  private long cursor;
  private long inUse;

  /**
   * @param memory the memory the frames belong to
   * @param firstGpa the first allocatable guest-physical address (page aligned)
   * @param endGpa the end of the allocatable range (exclusive)
   * @param limitBytes the most bytes that may be allocated at once
   */
  public FrameAllocator(GuestMemory memory, long firstGpa, long endGpa, long limitBytes) {
    if (firstGpa % GuestMemory.PAGE != 0 || endGpa % GuestMemory.PAGE != 0 || endGpa <= firstGpa) {
      throw new IllegalArgumentException("bad frame range " + firstGpa + ".." + endGpa);
    }
    this.memory = memory;
    this.firstFrame = firstGpa / GuestMemory.PAGE;
    this.frameCount = (endGpa - firstGpa) / GuestMemory.PAGE;
    this.limitFrames = Math.min(frameCount, limitBytes / GuestMemory.PAGE);
    this.used = new long[(int) ((frameCount + 63) / 64)];
  }

  /**
   * Allocates one zeroed frame.
   *
   * @return its guest-physical address, or -1 if the limit is reached
   */
  public synchronized long allocate() {
    if (inUse >= limitFrames) {
      return -1;
    }
    int words = used.length;
    int w = (int) (cursor / 64);
    for (int i = 0; i <= words; i++, w = (w + 1) % words) {
      long free = ~used[w];
      if (w == words - 1 && frameCount % 64 != 0) {
        free &= (1L << (frameCount % 64)) - 1;
      }
      if (free != 0) {
        int bit = Long.numberOfTrailingZeros(free);
        used[w] |= 1L << bit;
        inUse++;
        long index = (long) w * 64 + bit;
        cursor = index + 1 == frameCount ? 0 : index + 1;
        return (firstFrame + index) * GuestMemory.PAGE;
      }
    }
    return -1;
  }

  /**
   * Allocates {@code count} contiguous zeroed frames.
   *
   * @return the guest-physical address of the first, or -1 if no such run exists or the limit
   *     would be exceeded
   */
  public synchronized long allocateContiguous(long count) {
    if (count <= 0) {
      throw new IllegalArgumentException("count must be positive: " + count);
    }
    // count - not inUse + count: a hostile count near 2^63 must not wrap past the limit.
    if (count > limitFrames - inUse || count > frameCount) {
      return -1;
    }
    long run = 0;
    for (long i = 0; i < frameCount; i++) {
      if (isUsed(i)) {
        run = 0;
      } else if (++run == count) {
        long start = i - count + 1;
        for (long j = start; j <= i; j++) {
          used[(int) (j / 64)] |= 1L << (j % 64);
        }
        inUse += count;
        return (firstFrame + start) * GuestMemory.PAGE;
      }
    }
    return -1;
  }

  private boolean isUsed(long index) {
    return (used[(int) (index / 64)] & (1L << (index % 64))) != 0;
  }

  /**
   * Gives frames back. The caller guarantees that no guest translation to any of them remains
   * and that no page-table shadow of them can be reused; their contents are discarded.
   *
   * @param gpas guest-physical addresses of allocated frames, in any order
   * @throws IllegalArgumentException if a frame is not allocated (nothing is freed then)
   */
  public void free(long... gpas) {
    free(gpas, gpas.length);
  }

  /** {@link #free(long...)} of the first {@code n} addresses. */
  public void free(long[] gpas, int n) {
    long[] sorted = java.util.Arrays.copyOf(gpas, n);
    java.util.Arrays.sort(sorted);
    synchronized (this) {
      for (long gpa : sorted) {
        long index = checkedIndex(gpa);
        if (!isUsed(index)) {
          throw new IllegalArgumentException("frame 0x" + Long.toHexString(gpa) + " is not allocated");
        }
      }
    }
    // Discard outside the lock, in contiguous runs: fallocate is a system call.
    int i = 0;
    while (i < sorted.length) {
      int j = i + 1;
      while (j < sorted.length && sorted[j] == sorted[j - 1] + GuestMemory.PAGE) {
        j++;
      }
      memory.discard(sorted[i], (j - i) * GuestMemory.PAGE);
      i = j;
    }
    synchronized (this) {
      for (long gpa : sorted) {
        long index = checkedIndex(gpa);
        used[(int) (index / 64)] &= ~(1L << (index % 64));
        inUse--;
      }
    }
  }

  private long checkedIndex(long gpa) {
    long frame = gpa / GuestMemory.PAGE;
    if (gpa % GuestMemory.PAGE != 0 || frame < firstFrame || frame >= firstFrame + frameCount) {
      throw new IllegalArgumentException("not a frame of this allocator: 0x" + Long.toHexString(gpa));
    }
    return frame - firstFrame;
  }

  /** Frames allocated now. */
  public synchronized long framesInUse() {
    return inUse;
  }

  /** The most frames that may be allocated at once. */
  public long frameLimit() {
    return limitFrames;
  }

  /** The memory the frames belong to. */
  public GuestMemory memory() {
    return memory;
  }
}
