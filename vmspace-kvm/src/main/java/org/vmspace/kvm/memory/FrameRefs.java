package org.vmspace.kvm.memory;

import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * A reference count per frame: every present page-table leaf pointing at a frame holds one, and
 * so does every memory object owning it. A frame whose count drops to zero goes back to the
 * allocator, after the revocation that removed the last translation to it.
 *
 * <p>Thread-safe (atomic counters).
 */
public final class FrameRefs {
  private final long firstGpa;
  private final AtomicIntegerArray counts;

  public FrameRefs(long firstGpa, long endGpa) {
    this.firstGpa = firstGpa;
    this.counts = new AtomicIntegerArray((int) ((endGpa - firstGpa) / GuestMemory.PAGE));
  }

  private int index(long gpa) {
    long i = (gpa - firstGpa) / GuestMemory.PAGE;
    if (gpa % GuestMemory.PAGE != 0 || i < 0 || i >= counts.length()) {
      throw new IllegalArgumentException("not a frame: 0x" + Long.toHexString(gpa));
    }
    return (int) i;
  }

  /**
   * Whether the frame is one of the allocator's (reference-counted); frames of other memory
   * slots (host file mappings) belong to their slot and are not counted.
   */
  public boolean covers(long gpa) {
    long i = (gpa - firstGpa) / GuestMemory.PAGE;
    return gpa >= firstGpa && i < counts.length();
  }

  /** Sets the count of a newly allocated frame to 1. */
  public void init(long gpa) {
    counts.set(index(gpa), 1);
  }

  /** Adds a reference. */
  public void retain(long gpa) {
    int before = counts.getAndIncrement(index(gpa));
    if (before <= 0) {
      counts.getAndDecrement(index(gpa));
      throw new IllegalStateException("retain of a free frame 0x" + Long.toHexString(gpa));
    }
  }

  /**
   * Drops a reference.
   *
   * @return whether it was the last (the frame must now be freed)
   */
  public boolean release(long gpa) {
    int after = counts.decrementAndGet(index(gpa));
    if (after < 0) {
      throw new IllegalStateException("release of a free frame 0x" + Long.toHexString(gpa));
    }
    return after == 0;
  }

  /** The count now. */
  public int count(long gpa) {
    return counts.get(index(gpa));
  }
}
