package org.vmspace.kvm.vm;

import org.vmspace.kvm.paging.Revocation;

/**
 * What a non-anonymous-private mapping maps: a set of pages indexed from 0, each a frame the
 * object holds a reference on (BSD's vm_object). Mappings count as references to the object;
 * the last one, with the owner's handle closed, gives the pages back.
 *
 * <p>Thread-safe.
 */
public abstract class VmObject {
  private int mappings;
  private boolean handleOpen;

  protected VmObject(boolean hasHandle) {
    this.handleOpen = hasHandle;
  }

  /** The size in pages. */
  public abstract long pages();

  /** Whether shared writable mappings are allowed. */
  public abstract boolean writable();

  /**
   * The frame of page {@code index}, allocating a zeroed one if the object is sparse.
   *
   * @return the frame, or -1 if it could not be allocated (memory limit)
   */
  public abstract long frame(long index);

  /** The frame of page {@code index} if it exists, else -1; never allocates. */
  public abstract long frameIfPresent(long index);

  /** Gives back every page's reference, into {@code revocation}. */
  protected abstract void releasePages(Revocation revocation);

  /** A mapping now uses the object. */
  public synchronized void addMapping() {
    mappings++;
  }

  /** A mapping no longer uses the object; may release the pages. */
  public void removeMapping(Revocation revocation) {
    boolean last;
    synchronized (this) {
      last = --mappings == 0 && !handleOpen;
    }
    if (last) {
      releasePages(revocation);
    }
  }

  /** The owner closed its handle; may release the pages. */
  public void closeHandle(Revocation revocation) {
    boolean last;
    synchronized (this) {
      if (!handleOpen) {
        return;
      }
      handleOpen = false;
      last = mappings == 0;
    }
    if (last) {
      releasePages(revocation);
    }
  }

  /** Whether the owner's handle is still open. */
  public synchronized boolean isHandleOpen() {
    return handleOpen;
  }
}
