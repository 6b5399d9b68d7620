package org.vmspace.kvm.vm;

import java.lang.foreign.MemorySegment;
import org.vmspace.kvm.linux.Libc;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.paging.Revocation;

/**
 * The pages of a host file as shared mappings see them: the file itself, mapped shared into
 * the host and registered as a KVM memory slot of its own, so guest writes reach the file and
 * the file's changes reach the guest. The slot is read-only for a file opened read-only. It is
 * removed after the revocation of the last mapping.
 *
 * <p>The file may shrink under its mappings (another process truncates it). Its pages past the
 * new end then no longer exist in the host mapping: KVM fails to fault them in, and a host
 * access would raise SIGBUS in the service. So the object keeps a descriptor of its own to read
 * the file's current size: frames past it are absent (a guest access is an unresolved fault,
 * which a Linux-like kernel turns into SIGBUS), and {@link #refresh()} tells the run loop when
 * translations into such pages must be dropped. Pages come back if the file grows again.
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
  /** Our own descriptor of the file (for its size), or -1 for an empty slot. */
  private final int sizeFd;
  /** The pages that exist, as of the last look at the file's size. */
  private volatile long validPages;

  /**
   * @param fd the file's descriptor, reopened here for size checks (the caller keeps its own)
   */
  FileSlotObject(long pages, boolean writable, Slot slot, int fd) {
    super(true);
    this.pages = pages;
    this.writable = writable;
    this.slot = slot;
    this.sizeFd = pages == 0 ? -1 : reopen(fd);
    this.validPages = pages;
  }

  private static int reopen(int fd) {
    try {
      return Libc.open("/proc/self/fd/" + fd, Libc.O_RDONLY | Libc.O_CLOEXEC);
    } catch (RuntimeException e) {
      return -1; // not readable by the service: the size stays the one at open
    }
  }

  /**
   * Looks at the file's size again; true if pages that existed at the last look are gone (the
   * file was truncated), so translations into them must be dropped.
   */
  public boolean refresh() {
    if (sizeFd < 0) {
      return false;
    }
    long size;
    try {
      size = Libc.fileSize(sizeFd);
    } catch (RuntimeException e) {
      size = 0; // cannot tell: treat every page as gone rather than let the host fault
    }
    long now = Math.min(pages, (size + GuestMemory.PAGE - 1) / GuestMemory.PAGE);
    boolean shrank = now < validPages;
    validPages = now;
    return shrank;
  }

  /** The pages that exist, as of the last {@link #refresh()}. */
  long validPages() {
    return validPages;
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
    if (index < 0 || index >= pages) {
      return -1;
    }
    if (index >= validPages) {
      refresh(); // it may have grown back
    }
    return index < validPages ? slot.guestPhysicalBase() + index * GuestMemory.PAGE : -1;
  }

  /**
   * The host memory behind guest-physical address {@code pa}, a frame of this object, from {@code
   * pa} to the end of the slot; null if {@code pa} is not one of its frames.
   */
  MemorySegment hostAt(long pa) {
    long offset = pa - slot.guestPhysicalBase();
    if (offset < 0 || offset >= pages * GuestMemory.PAGE) {
      return null;
    }
    // The file's size now, not at the last look: a host access past its end is SIGBUS.
    refresh();
    long end = validPages * GuestMemory.PAGE;
    return offset < end ? slot.host().asSlice(offset, end - offset) : null;
  }

  @Override
  protected void releasePages(Revocation revocation) {
    revocation.afterwards(() -> {
      slot.remove();
      if (sizeFd >= 0) {
        Libc.close(sizeFd);
      }
    });
  }
}
