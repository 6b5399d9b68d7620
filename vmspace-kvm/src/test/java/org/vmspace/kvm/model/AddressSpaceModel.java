package org.vmspace.kvm.model;

import java.util.HashMap;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import org.vmspace.api.Errno;
import org.vmspace.api.MapFlags;
import org.vmspace.api.Prot;

/**
 * A pure-Java model of one vmspace's memory as the contract defines it: which pages are mapped
 * with which protection, and what every readable byte is. The random test applies each call to
 * the model and to the service and compares results, errnos and bytes.
 */
final class AddressSpaceModel {
  static final long PAGE = 4096;
  static final long VM_MAX = 0x0000_7FFF_FFE0_0000L;
  static final long FLOOR = 0x10000;

  /** Shared memory: a memory object, or the object behind a MAP_SHARED|MAP_ANON mapping. */
  static final class Obj {
    final long pages;
    final Map<Long, byte[]> data = new HashMap<>();
    boolean open = true;

    Obj(long pages) {
      this.pages = pages;
    }

    byte[] page(long index) {
      return data.computeIfAbsent(index, k -> new byte[(int) PAGE]);
    }
  }

  /** One mapped page. */
  static final class Page {
    final Prot prot;
    final boolean shared;
    final Obj obj; // null: anonymous private
    final long index;
    byte[] privateCopy; // anonymous private data, or a private mapping's copy after a write

    Page(Prot prot, boolean shared, Obj obj, long index) {
      this.prot = prot;
      this.shared = shared;
      this.obj = obj;
      this.index = index;
    }

    /** The bytes the guest sees (read-only view). */
    byte[] view() {
      if (privateCopy != null) {
        return privateCopy;
      }
      if (obj != null) {
        return obj.page(index);
      }
      return ZERO;
    }

    /** The bytes a write goes to (copying on the first private write). */
    byte[] writable() {
      if (obj != null && shared) {
        return obj.page(index);
      }
      if (privateCopy == null) {
        privateCopy = view().clone();
      }
      return privateCopy;
    }
  }

  static final byte[] ZERO = new byte[(int) PAGE];

  final NavigableMap<Long, Page> pages = new TreeMap<>();

  /**
   * The most pages a writable anonymous mapping may have (the context's memory limit in frames),
   * or -1 for no check (the sequences that never come near the limit).
   */
  long limitPages = -1;

  /** The expected errno of an mmap, or null if it succeeds; computes the address into {@code at}. */
  Errno mmap(long addr, long len, int prot, int flags, Obj obj, boolean backingGiven, long offset, long[] at) {
    if ((flags & ~MapFlags.KNOWN) != 0) {
      return Errno.EINVAL;
    }
    boolean shared = (flags & MapFlags.MAP_SHARED) != 0;
    if (shared == ((flags & MapFlags.MAP_PRIVATE) != 0)) {
      return Errno.EINVAL;
    }
    if (!Prot.isValid(prot)) {
      return Errno.EINVAL;
    }
    boolean anon = (flags & MapFlags.MAP_ANON) != 0;
    if (anon && (backingGiven || offset != 0)) {
      return Errno.EINVAL;
    }
    if (len == 0) {
      return Errno.EINVAL;
    }
    long pageoff = offset & (PAGE - 1);
    long pos = offset - pageoff;
    long size = (len + pageoff + PAGE - 1) & ~(PAGE - 1);
    if (size == 0 || Long.compareUnsigned(size, len) < 0) {
      return Errno.EINVAL;
    }
    boolean fixed = (flags & (MapFlags.MAP_FIXED | MapFlags.MAP_TRYFIXED)) != 0;
    long start = addr;
    if (fixed) {
      start = addr - pageoff;
      if ((start & (PAGE - 1)) != 0 || Long.compareUnsigned(start + size, start) < 0
          || Long.compareUnsigned(start + size, VM_MAX) > 0) {
        return Errno.EINVAL;
      }
    }
    if (!anon) {
      if (!backingGiven || !obj.open) {
        return Errno.EBADF;
      }
      // The offset is unsigned: -4096 is past the end.
      if (Long.compareUnsigned(pos >>> 12, obj.pages) >= 0) {
        return Errno.EINVAL;
      }
    }
    if (limitPages >= 0 && anon && Prot.of(prot).canWrite() && (flags & MapFlags.MAP_NORESERVE) == 0
        && Long.compareUnsigned(size >>> 12, limitPages) > 0) {
      return Errno.ENOMEM;
    }
    if (!fixed) {
      start = findSpace(size, (addr + PAGE - 1) & ~(PAGE - 1));
      if (start < 0) {
        start = findSpace(size, 0);
      }
      if (start < 0) {
        return Errno.ENOMEM;
      }
    } else if (!isFree(start, start + size)) {
      if ((flags & MapFlags.MAP_FIXED) == 0) {
        return Errno.ENOMEM;
      }
      unmap(start, start + size);
    }
    Obj o = obj;
    long first = pos >>> 12;
    if (anon && shared) {
      o = new Obj(size / PAGE);
      first = 0;
    }
    Prot p = Prot.of(prot);
    for (long i = 0; i < size / PAGE; i++) {
      pages.put(start + i * PAGE, new Page(p, shared, o, first + i));
    }
    at[0] = start + pageoff;
    return null;
  }

  /** The lowest page-aligned address at or above max(hint, FLOOR) with size free bytes. */
  private long findSpace(long size, long hint) {
    long candidate = Long.compareUnsigned(hint, FLOOR) >= 0 ? hint : FLOOR;
    // Unsigned, without a sum that could wrap: size and candidate may be anything.
    if (Long.compareUnsigned(size, VM_MAX) > 0 || Long.compareUnsigned(candidate, VM_MAX - size) > 0) {
      return -1;
    }
    while (true) {
      Long next = pages.ceilingKey(candidate);
      if (next == null) {
        return Long.compareUnsigned(candidate, VM_MAX - size) <= 0 ? candidate : -1;
      }
      if (Long.compareUnsigned(next - candidate, size) >= 0) {
        return candidate;
      }
      candidate = next + PAGE;
    }
  }

  boolean isFree(long start, long end) {
    Long k = pages.ceilingKey(start);
    return k == null || k >= end;
  }

  /** The expected errno of a munmap, or null; applies it. */
  Errno munmap(long addr, long len) {
    long start = addr & ~(PAGE - 1);
    long end = (addr + len + PAGE - 1) & ~(PAGE - 1);
    if (Long.compareUnsigned(addr + len, addr) < 0 || (end == 0 && addr + len != 0)) {
      return Errno.EINVAL;
    }
    if (end == start) {
      return null;
    }
    if (Long.compareUnsigned(end, VM_MAX) > 0) {
      return Errno.EINVAL;
    }
    for (long p = start; p < end; p += PAGE) {
      if (!pages.containsKey(p)) {
        return Errno.EINVAL;
      }
    }
    unmap(start, end);
    return null;
  }

  private void unmap(long start, long end) {
    pages.subMap(start, end).clear();
  }

  /** The expected errno of an mprotect, or null; applies it. */
  Errno mprotect(long addr, long len, int prot) {
    if ((addr & (PAGE - 1)) != 0) {
      return Errno.EINVAL;
    }
    long end = (addr + len + PAGE - 1) & ~(PAGE - 1);
    if (Long.compareUnsigned(addr + len, addr) < 0 || (end == 0 && addr + len != 0)) {
      return Errno.EINVAL;
    }
    if (!Prot.isValid(prot)) {
      return Errno.EINVAL;
    }
    if (end == addr) {
      return null;
    }
    if (Long.compareUnsigned(end, VM_MAX) > 0) {
      return Errno.ENOMEM;
    }
    for (long p = addr; p < end; p += PAGE) {
      if (!pages.containsKey(p)) {
        return Errno.ENOMEM;
      }
    }
    Prot np = Prot.of(prot);
    for (long p = addr; p < end; p += PAGE) {
      Page old = pages.get(p);
      Page fresh = new Page(np, old.shared, old.obj, old.index);
      fresh.privateCopy = old.privateCopy;
      pages.put(p, fresh);
    }
    return null;
  }

  /** The expected errno of an mcontrol (no MAP_VPAGETABLE mapping in the model), or null; applies it. */
  Errno mcontrol(long addr, long len, int behav) {
    if (behav < 0 || behav > org.vmspace.api.Madvise.MADV_CONTROL_END) {
      return Errno.EINVAL;
    }
    long start = addr & ~(PAGE - 1);
    long end = (addr + len + PAGE - 1) & ~(PAGE - 1);
    if (Long.compareUnsigned(addr + len, addr) < 0 || (end == 0 && addr + len != 0)) {
      return Errno.EINVAL;
    }
    if (Long.compareUnsigned(end, VM_MAX) > 0) {
      return Errno.EINVAL;
    }
    if (behav == 11) {
      return Errno.EINVAL; // MADV_SETMAP: the model has no MAP_VPAGETABLE range
    }
    if ((behav == 4 || behav == 5) && Long.compareUnsigned(start, end) < 0) {
      dontneed(start, end);
    }
    return null;
  }

  /** MADV_DONTNEED: private data is dropped. */
  void dontneed(long start, long end) {
    for (Page p : pages.subMap(start, end).values()) {
      p.privateCopy = null;
    }
  }

  /**
   * Whether the guest (or pread/pwrite) may access the page. Pages of a mapping that lie past
   * the end of its object do not exist (a file's pages past EOF raise SIGBUS).
   */
  boolean readable(long va) {
    Page p = pages.get(va & ~(PAGE - 1));
    return p != null && p.prot.bits() != 0 && exists(p);
  }

  boolean writable(long va) {
    Page p = pages.get(va & ~(PAGE - 1));
    return p != null && p.prot.canWrite() && exists(p);
  }

  private static boolean exists(Page p) {
    return p.obj == null || p.index < p.obj.pages;
  }

  byte read(long va) {
    return pages.get(va & ~(PAGE - 1)).view()[(int) (va & (PAGE - 1))];
  }

  void write(long va, byte b) {
    pages.get(va & ~(PAGE - 1)).writable()[(int) (va & (PAGE - 1))] = b;
  }
}
