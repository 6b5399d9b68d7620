package org.vmspace.kvm.vm;

import org.vmspace.kvm.linux.Libc;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.paging.Revocation;

/**
 * The pages of a host file as private mappings see them: read from the file into frames on
 * first touch and shared read-only by every private mapping of the file, which copy a page on
 * their first write. Bytes past the end of the file in its last page read as zero; pages past
 * it do not exist (a fault there is reported, like SIGBUS). The file's size is the one it had
 * when it was opened.
 */
final class FileCacheObject extends VmObject {
  private final PhysicalSpace space;
  private final int fd;
  private final long fileSize;
  private final long pages;
  private final Runnable onRelease;
  private final PageFrames frames;

  FileCacheObject(PhysicalSpace space, int fd, long fileSize, Runnable onRelease) {
    super(true);
    this.space = space;
    this.fd = fd;
    this.fileSize = fileSize;
    this.pages = (fileSize + GuestMemory.PAGE - 1) / GuestMemory.PAGE;
    this.onRelease = onRelease;
    this.frames = new PageFrames(space);
  }

  @Override
  public long pages() {
    return pages;
  }

  @Override
  public boolean writable() {
    return false;
  }

  @Override
  public synchronized long frame(long index) {
    if (index < 0 || index >= pages) {
      return -1;
    }
    return frames.getOrCreate(index, this::readPage);
  }

  /** Reads page {@code index} of the file into {@code frame}; the rest of a last page stays zero. */
  private boolean readPage(long frame, long index) {
    long offset = index * GuestMemory.PAGE;
    long bytes = Math.min(GuestMemory.PAGE, fileSize - offset);
    try {
      Libc.pread(fd, space.memory().slice(frame, bytes), offset);
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  @Override
  public synchronized long frameIfPresent(long index) {
    return frames.get(index);
  }

  @Override
  protected synchronized void releasePages(Revocation revocation) {
    frames.releaseAll(revocation);
    revocation.afterwards(onRelease);
  }
}
