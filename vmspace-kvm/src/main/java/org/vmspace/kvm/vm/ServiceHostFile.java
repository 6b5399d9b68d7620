package org.vmspace.kvm.vm;

import java.nio.file.Path;
import org.vmspace.api.HostFile;
import org.vmspace.kvm.linux.Libc;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.paging.Revocation;

/**
 * A {@link HostFile}: an open descriptor and, created on first use, the object private mappings
 * use ({@link FileCacheObject}) and the one shared mappings use ({@link FileSlotObject}). The
 * descriptor is closed when the handle is closed and no mapping needs it any more.
 */
public final class ServiceHostFile implements HostFile {
  /** Creates the memory slot for a file's shared mappings. */
  public interface SlotFactory {
    FileSlotObject.Slot create(int fd, long bytes, boolean writable);
  }

  private final PhysicalSpace space;
  private final Object owner;
  private final Path path;
  private final int fd;
  private final boolean writable;
  private final long size;
  private final SlotFactory slots;
  private FileCacheObject cache;
  private FileSlotObject shared;
  private boolean open = true;
  private boolean fdClosed;

  public ServiceHostFile(
      PhysicalSpace space, Object owner, Path path, int fd, boolean writable, SlotFactory slots) {
    this.space = space;
    this.owner = owner;
    this.path = path;
    this.fd = fd;
    this.writable = writable;
    this.size = Libc.fileSize(fd);
    this.slots = slots;
  }

  /** The context that opened the file. */
  public Object owner() {
    return owner;
  }

  /**
   * The object a new mapping uses.
   *
   * @throws IllegalStateException if the handle is closed
   */
  public synchronized VmObject objectFor(boolean sharedMapping) {
    if (!open) {
      throw new IllegalStateException("host file is closed");
    }
    if (!sharedMapping) {
      if (cache == null) {
        cache = new FileCacheObject(space, fd, size, this::cacheReleased);
      }
      return cache;
    }
    if (shared == null) {
      long pages = (size + GuestMemory.PAGE - 1) / GuestMemory.PAGE;
      FileSlotObject.Slot slot = pages == 0 ? emptySlot() : slots.create(fd, pages * GuestMemory.PAGE, writable);
      shared = new FileSlotObject(pages, writable, slot, fd);
    }
    return shared;
  }

  private static FileSlotObject.Slot emptySlot() {
    return new FileSlotObject.Slot() {
      @Override
      public long guestPhysicalBase() {
        return 0;
      }

      @Override
      public java.lang.foreign.MemorySegment host() {
        return java.lang.foreign.MemorySegment.NULL;
      }

      @Override
      public void remove() {}
    };
  }

  private synchronized void cacheReleased() {
    cache = null;
    maybeCloseFd();
  }

  private void maybeCloseFd() {
    if (!open && cache == null && !fdClosed) {
      fdClosed = true;
      Libc.close(fd);
    }
  }

  @Override
  public Path path() {
    return path;
  }

  @Override
  public long size() {
    return size;
  }

  @Override
  public boolean isWritable() {
    return writable;
  }

  @Override
  public synchronized boolean isOpen() {
    return open;
  }

  @Override
  public void close() {
    FileCacheObject c;
    FileSlotObject s;
    synchronized (this) {
      if (!open) {
        return;
      }
      open = false;
      c = cache;
      s = shared;
      shared = null;
      if (c == null) {
        maybeCloseFd();
      }
    }
    Revocation r = new Revocation();
    if (c != null) {
      c.closeHandle(r);
    }
    if (s != null) {
      s.closeHandle(r);
    }
    space.revoke(r);
  }

  @Override
  public String toString() {
    return "HostFile[" + path + (writable ? ", read-write" : ", read-only") + (open ? "" : ", closed") + "]";
  }
}
