package org.vmspace.kvm.memory;

import org.vmspace.kvm.config.Settings;

/**
 * Hands out the 4 KiB frames of a range of guest-physical memory, single or contiguous, up to a
 * limit. Every frame handed out reads as zero: frames are given back only through {@link #free},
 * whose caller has revoked every translation to them, and their old contents never reach the next
 * holder.
 *
 * <p>A bitmap with a next-fit cursor: O(1) amortised for single frames, a linear search for
 * contiguous runs. Thread-safe.
 *
 * <p><b>Kept frames.</b> Up to {@link #keptCapacity()} freed frames stay resident as they are
 * (a stack, last freed first reused) and are zeroed by a host store when {@link #allocate()}
 * hands one out again; the others are discarded (their host pages go back to the host and read
 * as zero). A fork/exec/exit cycle frees and reallocates the same few hundred frames: reusing
 * them resident spares each one a hole punched in the memfd, the KVM MMU notification that
 * follows, and the host page fault, the nested-paging (or shadow) fault and the kernel's zeroing
 * at the guest's next touch. Kept frames are free for the limit ({@link #framesInUse()} does not
 * count them); contiguous runs do not use them and give them back to the host when they are in
 * the way. {@code -Dvmspace.keptFreePages} sets the capacity (default {@value
 * #DEFAULT_KEPT_PAGES}, 16 MiB; 0 discards every freed frame).
 */
public final class FrameAllocator {
  /** The system property that sets how many freed frames stay resident for reuse. */
  public static final String KEPT_PROPERTY = "vmspace.keptFreePages";
  /** The capacity without the property: 4096 frames, 16 MiB. */
  public static final int DEFAULT_KEPT_PAGES = 4096;

  private final GuestMemory memory;
  private final long firstFrame;
  private final long frameCount;
  private final long limitFrames;
  private final long[] used;
  /** Frames freed and kept resident, unzeroed; their bits stay set in {@link #used}. */
  private final long[] kept;
  /** One bit per frame: set while the frame is on {@link #kept}. */
  private final long[] keptBits;
  private int keptCount;
  private long cursor;
  private long inUse;

  /**
   * An allocator that keeps {@link #keptPagesProperty()} freed frames resident.
   *
   * @param memory the memory the frames belong to
   * @param firstGpa the first allocatable guest-physical address (page aligned)
   * @param endGpa the end of the allocatable range (exclusive)
   * @param limitBytes the most bytes that may be allocated at once
   * @throws IllegalArgumentException if the range is not page aligned or empty, or the property
   *     is malformed
   */
  public FrameAllocator(GuestMemory memory, long firstGpa, long endGpa, long limitBytes) {
    this(memory, firstGpa, endGpa, limitBytes, keptPagesProperty());
  }

  /**
   * @param keptPages how many freed frames may stay resident for reuse (0: none)
   * @throws IllegalArgumentException if the range is not page aligned or empty, or keptPages is
   *     negative
   */
  public FrameAllocator(GuestMemory memory, long firstGpa, long endGpa, long limitBytes, int keptPages) {
    if (firstGpa % GuestMemory.PAGE != 0 || endGpa % GuestMemory.PAGE != 0 || endGpa <= firstGpa) {
      throw new IllegalArgumentException("bad frame range " + firstGpa + ".." + endGpa);
    }
    if (keptPages < 0) {
      throw new IllegalArgumentException("kept pages must be 0 or more: " + keptPages);
    }
    this.memory = memory;
    this.firstFrame = firstGpa / GuestMemory.PAGE;
    this.frameCount = (endGpa - firstGpa) / GuestMemory.PAGE;
    this.limitFrames = Math.min(frameCount, limitBytes / GuestMemory.PAGE);
    this.used = new long[(int) ((frameCount + 63) / 64)];
    this.kept = new long[(int) Math.min(keptPages, frameCount)];
    this.keptBits = new long[keptPages == 0 ? 0 : used.length];
  }

  /**
   * The capacity set by {@code -Dvmspace.keptFreePages} (default {@value #DEFAULT_KEPT_PAGES}).
   *
   * @throws IllegalArgumentException if the property is negative or not a number
   */
  public static int keptPagesProperty() {
    return Settings.nonNegativeInt(KEPT_PROPERTY, DEFAULT_KEPT_PAGES, "pages");
  }


  /**
   * Allocates one zeroed frame.
   *
   * @return its guest-physical address, or -1 if the limit is reached
   */
  public long allocate() {
    long reused;
    synchronized (this) {
      if (inUse >= limitFrames) {
        return -1;
      }
      if (keptCount == 0) {
        return allocateFree();
      }
      inUse++;
      reused = kept[--keptCount];
      flipKept(reused);
    }
    // Outside the lock: no one else can reach the frame, and its translations are all revoked.
    memory.zero(reused, GuestMemory.PAGE);
    return reused;
  }

  /**
   * Allocates up to {@code count} zeroed frames at once, under one acquisition of the lock: the
   * kept frames first (zeroed afterwards, outside the lock), then fresh ones from the bitmap.
   *
   * @param out receives the frames' guest-physical addresses, from index 0
   * @return how many it allocated: fewer than {@code count} at the limit or when no frame is
   *     free, 0 for a {@code count} of 0
   * @throws IllegalArgumentException if {@code count} is negative or larger than {@code out}
   */
  public int allocate(long[] out, int count) {
    if (count < 0 || count > out.length) {
      throw new IllegalArgumentException("bad count " + count + " for " + out.length + " frames");
    }
    int n = 0;
    int reused;
    synchronized (this) {
      while (n < count && inUse < limitFrames && keptCount > 0) {
        inUse++;
        long f = kept[--keptCount];
        flipKept(f);
        out[n++] = f;
      }
      reused = n;
      while (n < count && inUse < limitFrames) {
        long f = allocateFree();
        if (f < 0) {
          break;
        }
        out[n++] = f;
      }
    }
    for (int i = 0; i < reused; i++) {
      memory.zero(out[i], GuestMemory.PAGE);
    }
    return n;
  }

  /** A frame from the bitmap; the caller holds the lock and has checked the limit. */
  private long allocateFree() {
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
  public long allocateContiguous(long count) {
    if (count <= 0) {
      throw new IllegalArgumentException("count must be positive: " + count);
    }
    synchronized (this) {
      // count - not inUse + count: a hostile count near 2^63 must not wrap past the limit.
      if (count > limitFrames - inUse || count > frameCount) {
        return -1;
      }
      long at = findRun(count);
      if (at >= 0 || keptCount == 0) {
        return at;
      }
    }
    // Kept frames may be what stands in the way: give them all back to the host and look again.
    releaseKept();
    synchronized (this) {
      return count > limitFrames - inUse ? -1 : findRun(count);
    }
  }

  /** Takes a run of {@code count} free frames from the bitmap, or returns -1; under the lock. */
  private long findRun(long count) {
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
   * and that no page-table shadow of them can be reused. Up to the kept capacity they stay
   * resident, to be zeroed when handed out again; the others are discarded now.
   *
   * @param gpas guest-physical addresses of allocated frames, in any order
   * @throws IllegalArgumentException if a frame is not allocated, or is given twice (nothing is
   *     freed then)
   */
  public void free(long... gpas) {
    free(gpas, gpas.length);
  }

  /** {@link #free(long...)} of the first {@code n} addresses. */
  public void free(long[] gpas, int n) {
    long[] sorted = java.util.Arrays.copyOf(gpas, n);
    java.util.Arrays.sort(sorted);
    int keep;
    synchronized (this) {
      for (int i = 0; i < sorted.length; i++) {
        long index = checkedIndex(sorted[i]);
        if (!isUsed(index) || (i > 0 && sorted[i] == sorted[i - 1]) || isKept(sorted[i])) {
          throw new IllegalArgumentException("frame 0x" + Long.toHexString(sorted[i]) + " is not allocated");
        }
      }
      // The highest addresses are kept: the lowest stay the bitmap's, close to its cursor.
      keep = Math.min(sorted.length, kept.length - keptCount);
      for (int i = sorted.length - keep; i < sorted.length; i++) {
        kept[keptCount++] = sorted[i];
        flipKept(sorted[i]);
      }
      inUse -= keep;
    }
    discard(sorted, sorted.length - keep, true);
  }

  /** Whether {@code gpa} (a frame of this allocator) is on the kept stack; under the lock. */
  private boolean isKept(long gpa) {
    if (keptBits.length == 0) {
      return false;
    }
    long index = gpa / GuestMemory.PAGE - firstFrame;
    return (keptBits[(int) (index / 64)] & (1L << (index % 64))) != 0;
  }

  /** Marks {@code gpa} as put on, or taken off, the kept stack; under the lock. */
  private void flipKept(long gpa) {
    long index = gpa / GuestMemory.PAGE - firstFrame;
    keptBits[(int) (index / 64)] ^= 1L << (index % 64);
  }

  /**
   * Discards the first {@code n} of {@code sorted} (sorted frames marked used in the bitmap) and
   * clears their bits; {@code counted}: they are in {@code inUse}, which drops by {@code n}.
   */
  private void discard(long[] sorted, int n, boolean counted) {
    // Discard outside the lock, in contiguous runs: fallocate is a system call.
    int i = 0;
    while (i < n) {
      int j = i + 1;
      while (j < n && sorted[j] == sorted[j - 1] + GuestMemory.PAGE) {
        j++;
      }
      memory.discard(sorted[i], (j - i) * GuestMemory.PAGE);
      i = j;
    }
    synchronized (this) {
      for (int k = 0; k < n; k++) {
        long index = checkedIndex(sorted[k]);
        used[(int) (index / 64)] &= ~(1L << (index % 64));
      }
      if (counted) {
        inUse -= n;
      }
    }
  }

  /** Gives every kept frame back to the host, so that contiguous runs may use them. */
  private void releaseKept() {
    long[] out;
    synchronized (this) {
      out = java.util.Arrays.copyOf(kept, keptCount);
      java.util.Arrays.fill(keptBits, 0L);
      // Their bits stay set in the bitmap until discarded, so that no one allocates them
      // meanwhile; the limit keeps counting them free, as they were (a concurrent allocation
      // at the limit must not fail because of this give-back).
      keptCount = 0;
    }
    java.util.Arrays.sort(out);
    discard(out, out.length, false);
  }

  private long checkedIndex(long gpa) {
    long frame = gpa / GuestMemory.PAGE;
    if (gpa % GuestMemory.PAGE != 0 || frame < firstFrame || frame >= firstFrame + frameCount) {
      throw new IllegalArgumentException("not a frame of this allocator: 0x" + Long.toHexString(gpa));
    }
    return frame - firstFrame;
  }

  /** Frames allocated now (kept frames are free). */
  public synchronized long framesInUse() {
    return inUse;
  }

  /** Freed frames resident now, waiting for reuse. */
  public synchronized int framesKept() {
    return keptCount;
  }

  /** The most freed frames that stay resident. */
  public int keptCapacity() {
    return kept.length;
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
