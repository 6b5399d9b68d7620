package org.vmspace.kvm.vm;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;
import org.vmspace.api.MemoryObject;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.paging.Revocation;

/**
 * A {@link MemoryObject}: contiguous guest-physical frames allocated when it is created, so the
 * caller's view is one slice of guest memory and, for {@code MAP_VPAGETABLE}, object offsets are
 * guest-physical offsets from {@link #base()}.
 */
public final class ServiceMemoryObject extends VmObject implements MemoryObject {
  private final PhysicalSpace space;
  private final Object owner;
  private final long base;
  private final long pages;
  private final MemorySegment view;
  private final Consumer<Revocation> applier;
  private final Consumer<ServiceMemoryObject> onRelease;

  /**
   * @param owner the context that created it (mmap of a foreign object is EBADF)
   * @param base the first frame of its contiguous run, each with a reference count of 1
   * @param applier applies the revocation that frees the pages once unused
   * @param onRelease runs before the pages are freed (the context closes the object's
   *     MAP_VPAGETABLE VM)
   */
  public ServiceMemoryObject(
      PhysicalSpace space, Object owner, long base, long pages, Consumer<Revocation> applier,
      Consumer<ServiceMemoryObject> onRelease) {
    this.onRelease = onRelease;
    super(true);
    this.space = space;
    this.owner = owner;
    this.base = base;
    this.pages = pages;
    this.view = space.memory().slice(base, pages * GuestMemory.PAGE);
    this.applier = applier;
  }

  /** The context that created the object. */
  public Object owner() {
    return owner;
  }

  /** The guest-physical address of the first byte. */
  public long base() {
    return base;
  }

  @Override
  public long pages() {
    return pages;
  }

  @Override
  public long size() {
    return pages * GuestMemory.PAGE;
  }

  @Override
  public boolean writable() {
    return true;
  }

  @Override
  public boolean isOpen() {
    return isHandleOpen();
  }

  @Override
  public MemorySegment segment() {
    if (!isHandleOpen()) {
      throw new IllegalStateException("memory object is closed");
    }
    return view;
  }

  @Override
  public long frame(long index) {
    return frameIfPresent(index);
  }

  @Override
  public long frameIfPresent(long index) {
    return index >= 0 && index < pages ? base + index * GuestMemory.PAGE : -1;
  }

  @Override
  protected void releasePages(Revocation revocation) {
    // No mapping uses the object any more, so no address space runs on tables in it.
    onRelease.accept(this);
    for (long i = 0; i < pages; i++) {
      space.release(base + i * GuestMemory.PAGE, revocation);
    }
  }

  @Override
  public void close() {
    Revocation r = new Revocation();
    closeHandle(r);
    if (!r.isEmpty()) {
      applier.accept(r);
    }
  }

  @Override
  public String toString() {
    return "MemoryObject[" + size() + " bytes at gpa 0x" + Long.toHexString(base)
        + (isOpen() ? "" : ", closed") + "]";
  }
}
