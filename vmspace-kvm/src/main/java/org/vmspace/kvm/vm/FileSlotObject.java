package org.vmspace.kvm.vm;

import java.lang.foreign.MemorySegment;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.paging.Revocation;

/**
 * The pages of a host file as shared mappings see them: the file itself, mapped shared into
 * the host and registered as a KVM memory slot of its own, so guest writes reach the file and
 * the file's changes reach the guest. The slot is read-only for a file opened read-only. It is
 * removed after the revocation of the last mapping.
 */
public final class FileSlotObject extends VmObject {
  /** Removes the slot and the host mapping; run once no translation points into the slot. */
  public interface Slot {
    long guestPhysicalBase();

    /** The host's shared mapping of the file, which the slot registers with KVM. */
    MemorySegment host();

    void remove();
  }

  private final long pages;
  private final boolean writable;
  private final Slot slot;

  FileSlotObject(long pages, boolean writable, Slot slot) {
    super(true);
    this.pages = pages;
    this.writable = writable;
    this.slot = slot;
  }

  @Override
  public long pages() {
    return pages;
  }

  @Override
  public boolean writable() {
    return writable;
  }

  @Override
  public long frame(long index) {
    return frameIfPresent(index);
  }

  @Override
  public long frameIfPresent(long index) {
    return index >= 0 && index < pages ? slot.guestPhysicalBase() + index * GuestMemory.PAGE : -1;
  }

  /**
   * The host memory behind guest-physical address {@code pa}, a frame of this object, from {@code
   * pa} to the end of the slot; null if {@code pa} is not one of its frames.
   */
  MemorySegment hostAt(long pa) {
    long offset = pa - slot.guestPhysicalBase();
    return offset >= 0 && offset < pages * GuestMemory.PAGE ? slot.host().asSlice(offset) : null;
  }

  @Override
  protected void releasePages(Revocation revocation) {
    revocation.afterwards(slot::remove);
  }
}
