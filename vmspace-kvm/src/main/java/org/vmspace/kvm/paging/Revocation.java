package org.vmspace.kvm.paging;

import java.util.Arrays;

/**
 * Changes to present page-table entries that must be made by the guest (on shadow-paging hosts
 * a host-side change of a present entry is never seen), and the frames that may be reused once
 * they are made: the data frames the entries pointed to and the tables they emptied.
 *
 * <p>Build one, hand it to the execution flavour, which applies every store so that no vCPU can
 * use the old translations, and only then drops the references and frees the frames. Not
 * thread-safe.
 */
public final class Revocation {
  private long[] entryGpas = new long[16];
  private long[] values = new long[16];
  private int stores;
  private long[] frames = new long[16];
  private int frameCount;
  private long[] releases = new long[16];
  private int releaseCount;
  private java.util.List<Runnable> afterwards;

  /** Asks for the entry at {@code entryGpa} to become {@code value}. */
  public void store(long entryGpa, long value) {
    if (stores == entryGpas.length) {
      entryGpas = Arrays.copyOf(entryGpas, stores * 2);
      values = Arrays.copyOf(values, stores * 2);
    }
    entryGpas[stores] = entryGpa;
    values[stores] = value;
    stores++;
  }

  /** Asks for the frame at {@code gpa} to be freed once every store is made. */
  public void freeAfter(long gpa) {
    if (frameCount == frames.length) {
      frames = Arrays.copyOf(frames, frameCount * 2);
    }
    frames[frameCount++] = gpa;
  }

  /**
   * Asks for one reference to the reference-counted frame at {@code gpa} to be dropped once
   * every store is made, and the frame freed if it was the last. Dropping it only then matters:
   * another address space may release the same frame meanwhile, and whichever drops the count
   * to zero must do so after both have made their stores, or a translation could still reach
   * a frame already handed to someone else.
   */
  public void releaseAfter(long gpa) {
    if (releaseCount == releases.length) {
      releases = Arrays.copyOf(releases, releaseCount * 2);
    }
    releases[releaseCount++] = gpa;
  }

  /** The number of references to drop after the stores. */
  public int releaseCount() {
    return releaseCount;
  }

  /** The frame of the {@code i}th reference to drop. */
  public long release(int i) {
    return releases[i];
  }

  /**
   * Asks for {@code action} to run once every store is made (for example deleting a memory
   * slot that the revoked entries pointed into).
   */
  public void afterwards(Runnable action) {
    if (afterwards == null) {
      afterwards = new java.util.ArrayList<>();
    }
    afterwards.add(action);
  }

  /** The actions to run after the stores, in the order they were added. */
  public java.util.List<Runnable> afterwardsActions() {
    return afterwards == null ? java.util.List.of() : afterwards;
  }

  /** The number of stores. */
  public int storeCount() {
    return stores;
  }

  /** The entry address of store {@code i}. */
  public long entryGpa(int i) {
    return entryGpas[i];
  }

  /** The value of store {@code i}. */
  public long value(int i) {
    return values[i];
  }

  /** The number of frames to free. */
  public int frameCount() {
    return frameCount;
  }

  /** The frames to free (the first {@link #frameCount()} entries are valid). */
  public long[] frames() {
    return frames;
  }

  /** Whether there is nothing to do. */
  public boolean isEmpty() {
    return stores == 0 && frameCount == 0 && releaseCount == 0 && afterwards == null;
  }
}
