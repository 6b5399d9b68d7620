package org.vmspace.kvm.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.kvm.ioctl.KvmVm;
import org.vmspace.kvm.linux.Libc;

/**
 * A context's guest-physical memory: a memfd of {@link #size()} bytes, mapped shared into the
 * host and registered as KVM memory slot 0 at guest-physical address 0, once for the life of
 * the context. Guest-physical address {@code gpa} is host byte {@code gpa} of {@link #host()}.
 *
 * <p>The memfd is sparse: only touched pages use host memory, and {@link #discard} gives pages
 * back (they read as zero afterwards).
 *
 * <p>Thread-safe: the mapping never moves; concurrent access to the same bytes is the callers'
 * business.
 */
public final class GuestMemory implements AutoCloseable {
  /** The page size. */
  public static final long PAGE = 4096;

  private final int memfd;
  private final Arena arena;
  private final MemorySegment host;
  private final long size;
  private volatile boolean closed;
  /** Shared by {@link #discard}, exclusive for {@link #close}: the memfd is never closed under one. */
  private final java.util.concurrent.locks.ReadWriteLock fdLock = new java.util.concurrent.locks.ReentrantReadWriteLock();

  private GuestMemory(int memfd, Arena arena, MemorySegment host, long size) {
    this.memfd = memfd;
    this.arena = arena;
    this.host = host;
    this.size = size;
  }

  /**
   * Creates {@code size} bytes of zeroed guest-physical memory.
   *
   * @param size a multiple of 2 MiB
   */
  public static GuestMemory create(String name, long size) {
    if (size <= 0 || size % (2L << 20) != 0) {
      throw new IllegalArgumentException("guest memory size must be a positive multiple of 2 MiB: " + size);
    }
    int fd = Libc.memfdCreate(name, Libc.MFD_CLOEXEC);
    Arena arena = Arena.ofShared();
    try {
      Libc.ftruncate(fd, size);
      MemorySegment host =
          Libc.mmap(
              size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Libc.MAP_NORESERVE, fd, 0,
              arena);
      return new GuestMemory(fd, arena, host, size);
    } catch (RuntimeException e) {
      arena.close();
      Libc.close(fd);
      throw e;
    }
  }

  /** Registers the whole memory as memory slot {@code slot} at guest-physical address 0. */
  public void registerWith(KvmVm vm, int slot) {
    vm.setUserMemoryRegion(slot, 0, 0, size, host.address());
  }

  /** The size in bytes. */
  public long size() {
    return size;
  }

  /** The host's view of all guest-physical memory. */
  public MemorySegment host() {
    return host;
  }

  /** The host's view of {@code length} bytes at guest-physical {@code gpa}. */
  public MemorySegment slice(long gpa, long length) {
    return host.asSlice(gpa, length);
  }

  /** Reads the 64-bit little-endian word at {@code gpa}. */
  public long readLong(long gpa) {
    return host.get(ValueLayout.JAVA_LONG, gpa);
  }

  /** Writes the 64-bit little-endian word at {@code gpa} (a host-side store). */
  public void writeLong(long gpa, long value) {
    host.set(ValueLayout.JAVA_LONG, gpa, value);
  }

  /**
   * Gives the pages of {@code [gpa, gpa + length)} back to the host: they read as zero
   * afterwards and use no memory until touched. The caller guarantees that no guest translation
   * to them remains. After {@link #close()} it does nothing: the pages are gone already, and the
   * descriptor number may belong to another file by then.
   */
  public void discard(long gpa, long length) {
    fdLock.readLock().lock();
    try {
      if (!closed) {
        Libc.fallocate(memfd, Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE, gpa, length);
      }
    } finally {
      fdLock.readLock().unlock();
    }
  }

  /**
   * Unmaps the memory and closes the memfd. Threads that still hold a view get {@link
   * IllegalStateException} on access, never a crash; a VM still running on the memory sees its
   * next access fail.
   */
  @Override
  public void close() {
    fdLock.writeLock().lock();
    try {
      if (!closed) {
        closed = true;
        arena.close();
        Libc.close(memfd);
      }
    } finally {
      fdLock.writeLock().unlock();
    }
  }
}
