package org.vmspace.kvm.vm;

import java.util.HashMap;
import java.util.Map;
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
  private static final int CHUNK = 512;
  private final PhysicalSpace space;
  private final int fd;
  private final long fileSize;
  private final long pages;
  private final Runnable onRelease;
  private final Map<Long, long[]> chunks = new HashMap<>();

  FileCacheObject(PhysicalSpace space, int fd, long fileSize, Runnable onRelease) {
    super(true);
    this.space = space;
    this.fd = fd;
    this.fileSize = fileSize;
    this.pages = (fileSize + GuestMemory.PAGE - 1) / GuestMemory.PAGE;
    this.onRelease = onRelease;
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
    long[] chunk = chunks.computeIfAbsent(index / CHUNK, k -> new long[CHUNK]);
    int i = (int) (index % CHUNK);
    if (chunk[i] == 0) {
      long f = space.newFrame();
      if (f < 0) {
        return -1;
      }
      long offset = index * GuestMemory.PAGE;
      long bytes = Math.min(GuestMemory.PAGE, fileSize - offset);
      try {
        Libc.pread(fd, space.memory().slice(f, bytes), offset);
      } catch (RuntimeException e) {
        Revocation r = new Revocation();
        space.release(f, r);
        space.revoke(r);
        return -1;
      }
      chunk[i] = f;
    }
    return chunk[i];
  }

  @Override
  public synchronized long frameIfPresent(long index) {
    long[] chunk = chunks.get(index / CHUNK);
    long f = chunk == null || index < 0 ? 0 : chunk[(int) (index % CHUNK)];
    return f == 0 ? -1 : f;
  }

  @Override
  protected synchronized void releasePages(Revocation revocation) {
    for (long[] chunk : chunks.values()) {
      for (long f : chunk) {
        if (f != 0) {
          space.release(f, revocation);
        }
      }
    }
    chunks.clear();
    revocation.afterwards(onRelease);
  }
}
