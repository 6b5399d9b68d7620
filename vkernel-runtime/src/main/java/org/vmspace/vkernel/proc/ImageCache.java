package org.vmspace.vkernel.proc;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import org.vmspace.api.HostFile;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceService;
import org.vmspace.vkernel.elf.ElfImage;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * Parsed executables and their host files, keyed by the file's identity and version (device,
 * inode, modification time, size), so that the hundredth exec of the shell neither parses the
 * ELF headers again nor opens a new page cache: every process running a binary maps the same
 * {@link HostFile}, whose private pages are shared copy-on-write.
 *
 * <p>An entry is closed when it is evicted and no exec is using it.
 */
final class ImageCache {
  /** A file version. */
  record Key(long dev, long ino, long mtimeSec, long mtimeNsec, long size) {
    static Key of(MemorySegment st) {
      return new Key(st.get(ValueLayout.JAVA_LONG, 0), st.get(ValueLayout.JAVA_LONG, 8),
          st.get(ValueLayout.JAVA_LONG, 88), st.get(ValueLayout.JAVA_LONG, 96), st.get(ValueLayout.JAVA_LONG, 48));
    }
  }

  /** A cached executable; {@link #release()} after use. */
  static final class Image {
    final HostFile file;
    final ElfImage elf;
    private int users;
    private boolean evicted;
    private boolean closed;

    Image(HostFile file, ElfImage elf) {
      this.file = file;
      this.elf = elf;
    }

    synchronized boolean acquire() {
      if (closed) {
        return false;
      }
      users++;
      return true;
    }

    void release() {
      boolean close;
      synchronized (this) {
        users--;
        close = evicted && users == 0 && !closed;
        closed |= close;
      }
      if (close) {
        file.close();
      }
    }

    void evict() {
      boolean close;
      synchronized (this) {
        evicted = true;
        close = users == 0 && !closed;
        closed |= close;
      }
      if (close) {
        file.close();
      }
    }
  }

  private final VmspaceService vms;
  private final Cache<Key, Image> cache;

  ImageCache(VmspaceService vms, int maximumSize) {
    this.vms = vms;
    this.cache = Caffeine.newBuilder()
        .maximumSize(maximumSize)
        .executor(Runnable::run)
        .<Key, Image>removalListener((k, v, cause) -> {
          if (v != null) {
            v.evict();
          }
        })
        .build();
  }

  /**
   * The image of the regular file open on host descriptor {@code fd} whose stat is {@code st},
   * acquired: the caller must {@link Image#release()} it.
   *
   * @throws SyscallError ENOEXEC if it is not an executable this kernel loads
   */
  Image get(int fd, MemorySegment st) {
    Key key = Key.of(st);
    for (int attempt = 0; attempt < 3; attempt++) {
      Image img = cache.get(key, k -> load(fd, k.size()));
      if (img.acquire()) {
        return img;
      }
      cache.asMap().remove(key, img);
    }
    throw new SyscallError(LinuxErrno.EAGAIN, "image cache contention");
  }

  private Image load(int fd, long size) {
    ElfImage elf = ElfImage.parse(fd, size);
    HostFile file;
    try {
      file = vms.openFile(Path.of("/proc/self/fd/" + fd), false);
    } catch (VmspaceException e) {
      throw new SyscallError(e.errno().code(), e.getMessage());
    }
    return new Image(file, elf);
  }

  /** The number of cached images (for tests and /proc). */
  long size() {
    cache.cleanUp();
    return cache.estimatedSize();
  }

  void close() {
    cache.invalidateAll();
    cache.cleanUp();
  }
}
