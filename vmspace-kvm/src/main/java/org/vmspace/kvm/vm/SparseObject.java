package org.vmspace.kvm.vm;

import org.vmspace.kvm.paging.Revocation;

/**
 * Zero-filled shared memory whose pages are allocated on first touch: the object behind a
 * {@code MAP_SHARED | MAP_ANON} mapping. Its frames are a {@link PageFrames}.
 */
final class SparseObject extends VmObject {
  private final long pages;
  private final PageFrames frames;

  SparseObject(PhysicalSpace space, long pages) {
    super(false);
    this.pages = pages;
    this.frames = new PageFrames(space);
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
    return frames.getOrCreate(index, (frame, i) -> true); // new frames read as zero
  }

  @Override
  public synchronized long frameIfPresent(long index) {
    return frames.get(index);
  }

  @Override
  protected synchronized void releasePages(Revocation revocation) {
    frames.releaseAll(revocation);
  }
}
