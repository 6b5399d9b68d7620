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
import org.vmspace.vkernel.mem.FileId;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The kernel's page cache for files mapped privately: one read-only {@link HostFile} per file
 * version (device, inode, modification time, size), shared by every exec and every private
 * {@code mmap} of that version, so that the hundredth process running {@code ls} neither opens
 * a new page cache for {@code ls}, {@code ld.so} and {@code libc.so.6} nor copies their text:
 * the backend shares a handle's private pages read-only between all its mappings and copies a
 * page only when one of them writes it. An executable's parsed ELF headers are kept with it.
 *
 * <p>A changed file is a new version (its mtime or size differs) and gets a new handle; mappings
 * of the old one keep the pages they had, where Linux would show them the new bytes of pages
 * they have not written (a documented difference). An entry is closed when it is evicted and
 * nothing is using it; mappings made from it stay valid after that. Thread-safe.
 */
public final class FileCache {
  /** A file version. */
  record Key(long dev, long ino, long mtimeSec, long mtimeNsec, long size) {
    static Key of(MemorySegment st) {
      return new Key(st.get(ValueLayout.JAVA_LONG, 0), st.get(ValueLayout.JAVA_LONG, 8),
          st.get(ValueLayout.JAVA_LONG, 88), st.get(ValueLayout.JAVA_LONG, 96), st.get(ValueLayout.JAVA_LONG, 48));
    }

    // Written out: a record's generated equals and hashCode go through method-handle chains
    // that cost microseconds on every exec where the caller is not compiled by C2.
    @Override
    public boolean equals(Object o) {
      return o instanceof Key k && dev == k.dev && ino == k.ino && mtimeSec == k.mtimeSec
          && mtimeNsec == k.mtimeNsec && size == k.size;
    }

    @Override
    public int hashCode() {
      long h = dev;
      h = h * 31 + ino;
      h = h * 31 + mtimeSec;
      h = h * 31 + mtimeNsec;
      h = h * 31 + size;
      return Long.hashCode(h);
    }
  }

  /** A cached file; {@link #release()} it after use. */
  public static final class Entry {
    private final HostFile file;
    private final long size;
    private final FileId id;
    private ElfImage elf;
    private int users;
    private boolean evicted;
    private boolean closed;

    Entry(HostFile file, long size, FileId id) {
      this.file = file;
      this.size = size;
      this.id = id;
    }

    /** The file's device and inode, for /proc/PID/maps. */
    public FileId id() {
      return id;
    }

    /** The read-only host file: map it MAP_PRIVATE. */
    public HostFile file() {
      return file;
    }

    /**
     * The file's ELF headers, parsed from host descriptor {@code fd} (open on this version) the
     * first time they are asked for.
     *
     * @throws SyscallError ENOEXEC if it is not an executable this kernel loads
     */
    public synchronized ElfImage elf(int fd) {
      if (elf == null) {
        elf = ElfImage.parse(fd, size);
      }
      return elf;
    }

    synchronized boolean acquire() {
      if (closed) {
        return false;
      }
      users++;
      return true;
    }

    /** Ends a use begun by {@link FileCache#get}. */
    public void release() {
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
  private final Cache<Key, Entry> cache;

  FileCache(VmspaceService vms, int maximumSize) {
    this.vms = vms;
    this.cache = Caffeine.newBuilder()
        .maximumSize(maximumSize)
        .executor(Runnable::run)
        .<Key, Entry>removalListener((k, v, cause) -> {
          if (v != null) {
            v.evict();
          }
        })
        .build();
  }

  /**
   * The entry of the regular file open on host descriptor {@code fd} whose stat is {@code st},
   * acquired: the caller must {@link Entry#release()} it.
   *
   * @throws SyscallError the host's errno if the file cannot be opened again for mapping
   */
  public Entry get(int fd, MemorySegment st) {
    Key key = Key.of(st);
    for (int attempt = 0; attempt < 3; attempt++) {
      Entry e = cache.get(key, k -> open(fd, k));
      if (e.acquire()) {
        return e;
      }
      cache.asMap().remove(key, e);
    }
    throw new SyscallError(LinuxErrno.EAGAIN, "file cache contention");
  }

  private Entry open(int fd, Key key) {
    try {
      return new Entry(vms.openFile(Path.of("/proc/self/fd/" + fd), false), key.size(), new FileId(key.dev(), key.ino()));
    } catch (VmspaceException e) {
      throw new SyscallError(e.errno().code(), e.getMessage());
    }
  }

  /** The number of cached files (for tests and /proc). */
  long size() {
    cache.cleanUp();
    return cache.estimatedSize();
  }

  void close() {
    cache.invalidateAll();
    cache.cleanUp();
  }
}
