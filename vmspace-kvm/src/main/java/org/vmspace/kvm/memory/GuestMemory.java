package org.vmspace.kvm.memory;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.kvm.ioctl.KvmVm;
import java.nio.file.Files;
import java.nio.file.Path;
import org.vmspace.kvm.linux.Errnos;
import org.vmspace.kvm.linux.Libc;
import org.vmspace.kvm.linux.LinuxException;

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
  /** The host's (and KVM's) large-leaf size on x86-64. */
  public static final long HUGE_PAGE = 2L << 20;

  private static final Path SHMEM_ENABLED =
      Path.of("/sys/kernel/mm/transparent_hugepage/shmem_enabled");

  private final int memfd;
  private final Arena arena;
  private final MemorySegment host;
  private final long size;
  private final boolean hugePagesAdvised;
  private volatile boolean closed;
  /** Shared by {@link #discard}, exclusive for {@link #close}: the memfd is never closed under one. */
  private final java.util.concurrent.locks.ReadWriteLock fdLock = new java.util.concurrent.locks.ReentrantReadWriteLock();

  private GuestMemory(int memfd, Arena arena, MemorySegment host, long size, boolean hugePagesAdvised) {
    this.memfd = memfd;
    this.hugePagesAdvised = hugePagesAdvised;
    this.arena = arena;
    this.host = host;
    this.size = size;
  }

  /**
   * Creates {@code size} bytes of zeroed guest-physical memory on small host pages.
   *
   * @param size a multiple of 2 MiB
   * @throws IllegalArgumentException if the size is not a positive multiple of 2 MiB
   */
  public static GuestMemory create(String name, long size) {
    return create(name, size, false);
  }

  /**
   * Creates {@code size} bytes of zeroed guest-physical memory. With {@code hugePages}, the
   * host mapping is 2 MiB-aligned and advised {@code MADV_HUGEPAGE}: where the host's shmem
   * policy honours the advice ({@link #hostHonoursAdvice()}), the kernel backs touched 2 MiB
   * blocks with huge pages and KVM maps them with 2 MiB leaves in its nested (or shadow) tables,
   * so a guest touching memory sequentially costs far fewer host faults and TLB misses. Where
   * the host has no transparent huge pages the advice is refused and the memory works as with
   * small pages.
   *
   * @param size a multiple of 2 MiB
   * @throws IllegalArgumentException if the size is not a positive multiple of 2 MiB
   */
  public static GuestMemory create(String name, long size, boolean hugePages) {
    if (size <= 0 || size % HUGE_PAGE != 0) {
      throw new IllegalArgumentException("guest memory size must be a positive multiple of 2 MiB: " + size);
    }
    int fd = Libc.memfdCreate(name, Libc.MFD_CLOEXEC);
    Arena arena = Arena.ofShared();
    try {
      Libc.ftruncate(fd, size);
      int prot = Libc.PROT_READ | Libc.PROT_WRITE;
      int flags = Libc.MAP_SHARED | Libc.MAP_NORESERVE;
      MemorySegment host =
          hugePages
              ? Libc.mmapAligned(size, HUGE_PAGE, prot, flags, fd, 0, arena)
              : Libc.mmap(size, prot, flags, fd, 0, arena);
      boolean advised = hugePages && adviseHugePages(host);
      return new GuestMemory(fd, arena, host, size, advised);
    } catch (RuntimeException e) {
      arena.close();
      Libc.close(fd);
      throw e;
    }
  }

  /** False where the kernel refuses the advice (built without transparent huge pages). */
  private static boolean adviseHugePages(MemorySegment host) {
    try {
      Libc.madvise(host, Libc.MADV_HUGEPAGE);
      return true;
    } catch (LinuxException e) {
      if (e.errno() == Errnos.EINVAL) {
        return false;
      }
      throw e;
    }
  }

  /**
   * Whether this memory was created for huge pages and the kernel took the advice; whether
   * huge pages then back it depends on {@link #hostShmemHugePages()}.
   */
  public boolean hugePagesAdvised() {
    return hugePagesAdvised;
  }

  /**
   * The host's policy for huge pages under shared memory (memfds included): the selected word
   * of {@code /sys/kernel/mm/transparent_hugepage/shmem_enabled} ({@code always},
   * {@code within_size}, {@code advise}, {@code never}, {@code deny} or {@code force}), or
   * {@code "unavailable"} where the file cannot be read (no transparent huge pages).
   */
  public static String hostShmemHugePages() {
    return selectedWord(readSmall(SHMEM_ENABLED));
  }

  /** Whether the host's shmem policy gives huge pages to memory advised as {@link #create} does. */
  public static boolean hostHonoursAdvice() {
    return switch (hostShmemHugePages()) {
      case "always", "within_size", "advise", "force" -> true;
      default -> false;
    };
  }

  /** The bracketed word of a sysfs choice line such as {@code always [advise] never}. */
  static String selectedWord(String line) {
    if (line == null) {
      return "unavailable";
    }
    int open = line.indexOf('[');
    int close = line.indexOf(']', open + 1);
    return open >= 0 && close > open ? line.substring(open + 1, close) : "unavailable";
  }

  private static String readSmall(Path file) {
    try {
      return Files.readString(file).strip();
    } catch (IOException | RuntimeException e) {
      return null;
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
    return host.get(ValueLayout.JAVA_LONG_UNALIGNED, gpa);
  }

  /**
   * Reads the {@code count} 64-bit little-endian words from {@code gpa} into {@code
   * into[0..count)} with one bulk copy: for page-table walks, where a call of {@link #readLong}
   * per entry costs more than the copy.
   */
  public void readLongs(long gpa, int count, long[] into) {
    MemorySegment.copy(host, ValueLayout.JAVA_LONG_UNALIGNED, gpa, into, 0, count);
  }

  /**
   * Writes {@code from[offset..offset + count)} as consecutive 64-bit little-endian words from
   * {@code gpa}, in one copy (host-side stores).
   */
  public void writeLongs(long gpa, long[] from, int offset, int count) {
    MemorySegment.copy(from, offset, host, ValueLayout.JAVA_LONG_UNALIGNED, gpa, count);
  }

  /** Writes the 64-bit little-endian word at {@code gpa} (a host-side store). */
  public void writeLong(long gpa, long value) {
    host.set(ValueLayout.JAVA_LONG_UNALIGNED, gpa, value);
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
   * Zeroes {@code [gpa, gpa + length)} with host stores, keeping its host pages resident. The
   * caller guarantees that no guest translation to it remains. After {@link #close()} it does
   * nothing.
   */
  public void zero(long gpa, long length) {
    fdLock.readLock().lock();
    try {
      if (!closed) {
        host.asSlice(gpa, length).fill((byte) 0);
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
