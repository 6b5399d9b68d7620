package org.vmspace.kvm.vm;

import static org.vmspace.kvm.vm.Vmspace.VM_MAX;
import static org.vmspace.kvm.vm.Vmspace.PAGE_SHIFT;
import static org.vmspace.kvm.vm.Vmspace.PAGE_MASK;
import static org.vmspace.kvm.vm.Vmspace.NON_FIXED_FLOOR;
import static org.vmspace.kvm.vm.Vmspace.KNOWN_FLAGS;

import java.util.List;
import org.vmspace.api.Backing;
import org.vmspace.api.Errno;
import org.vmspace.api.Madvise;
import org.vmspace.api.MapFlags;
import org.vmspace.api.Prot;
import org.vmspace.kvm.paging.Pte;
import org.vmspace.kvm.paging.Revocation;
import org.vmspace.kvm.vm.Vmspace.Vpage;
import org.vmspace.kvm.vm.Vmspace.BackingResolver;

/**
 * The map calls of one address space, each its ladder of checks in the contract's order and
 * then the work: {@code mmap}, {@code munmap}, {@code mprotect} and {@code mcontrol} (DragonFly's
 * {@code vm_vmspace.c} and {@code vm_map.c}). Called by {@link Vmspace}, whose lock they take.
 */
final class MapCalls {
  private final Vmspace vm;

  MapCalls(Vmspace vm) {
    this.vm = vm;
  }

  // ---------------------------------------------------------------- mmap

  /**
   * {@code vmspace_mmap} after the id lookup: checks in the contract's order, then maps.
   *
   * @return the address of the mapping
   * @throws VmFailure with the first errno that applies
   */
  long mmap(
      long addr, long len, int protBits, int flags, Backing backing, long offset, BackingResolver resolver) {
    if ((flags & ~KNOWN_FLAGS) != 0) {
      throw new VmFailure(Errno.EINVAL, "unknown flags 0x" + Integer.toHexString(flags & ~KNOWN_FLAGS));
    }
    boolean shared = (flags & MapFlags.MAP_SHARED) != 0;
    if (shared == ((flags & MapFlags.MAP_PRIVATE) != 0)) {
      throw new VmFailure(Errno.EINVAL, "exactly one of MAP_SHARED and MAP_PRIVATE is required");
    }
    if (!Prot.isValid(protBits)) {
      throw new VmFailure(Errno.EINVAL, "invalid prot 0x" + Integer.toHexString(protBits));
    }
    boolean anon = (flags & MapFlags.MAP_ANON) != 0;
    if (anon && (backing != null || offset != 0)) {
      throw new VmFailure(Errno.EINVAL, "MAP_ANON with a backing or a non-zero offset");
    }
    if (len == 0) {
      throw new VmFailure(Errno.EINVAL, "len is 0");
    }
    Prot prot = Prot.of(protBits);
    if ((flags & MapFlags.MAP_VPAGETABLE) != 0 && !(prot.canRead() && prot.canWrite())) {
      throw new VmFailure(Errno.EINVAL, "MAP_VPAGETABLE needs PROT_READ|PROT_WRITE");
    }
    long pageoff = offset & PAGE_MASK;
    long pos = offset - pageoff;
    long size = Vmspace.roundPage(len + pageoff);
    if (size == 0 || Long.compareUnsigned(size, len) < 0) {
      throw new VmFailure(Errno.EINVAL, "len 0x" + Long.toHexString(len) + " wraps when rounded to pages");
    }
    boolean fixed = (flags & (MapFlags.MAP_FIXED | MapFlags.MAP_TRYFIXED)) != 0;
    long start = addr;
    if (fixed) {
      start = addr - pageoff;
      if ((start & PAGE_MASK) != 0) {
        throw new VmFailure(Errno.EINVAL, "fixed address 0x" + Long.toHexString(addr) + " misaligned to the offset");
      }
      if (Long.compareUnsigned(start + size, start) < 0) {
        throw new VmFailure(Errno.EINVAL, "fixed range wraps");
      }
      if (Long.compareUnsigned(start + size, VM_MAX) > 0) {
        throw new VmFailure(Errno.EINVAL, "fixed range ends past VM_MAX_USER_ADDRESS");
      }
    }
    VmObject object = null;
    if (!anon) {
      if (backing == null) {
        throw new VmFailure(Errno.EBADF, "no backing without MAP_ANON");
      }
      object = resolver.resolve(backing, shared);
      if (shared && prot.canWrite() && !object.writable()) {
        throw new VmFailure(Errno.EACCES, "shared writable mapping of a read-only backing");
      }
      // The offset is unsigned: -4096 is 2^64 - 4096, past the end of any backing. Pages of a
      // mapping past the end are allowed, like a file mapping past EOF (they fault, SIGBUS
      // territory), but a mapping that starts past the end is refused.
      if (Long.compareUnsigned(pos >>> PAGE_SHIFT, object.pages()) >= 0) {
        throw new VmFailure(Errno.EINVAL, "offset 0x" + Long.toHexString(offset) + " is past the end of the backing");
      }
    }
    if ((flags & MapFlags.MAP_VPAGETABLE) != 0
        && !(object instanceof ServiceMemoryObject && pos == 0 && shared)) {
      throw new VmFailure(Errno.EINVAL,
          "MAP_VPAGETABLE needs MAP_SHARED of a memory object at offset 0 (its offsets are the tables' physical addresses)");
    }
    vm.lock.lock();
    try {
      vm.checkAlive();
      // Linux's heuristic overcommit: memory is taken when touched, so only a writable anonymous
      // mapping that could never be backed (larger than the whole limit) is refused; PROT_NONE,
      // read-only and MAP_NORESERVE reservations cost nothing until touched.
      if (anon && prot.canWrite() && (flags & MapFlags.MAP_NORESERVE) == 0
          && Long.compareUnsigned(size >>> PAGE_SHIFT, vm.space.frames().frameLimit()) > 0) {
        throw new VmFailure(Errno.ENOMEM, "writable mapping larger than the memory limit");
      }
      if (!fixed) {
        long hint = Vmspace.roundPage(addr);
        start = vm.map.findSpace(size, hint, NON_FIXED_FLOOR);
        if (start == AddressMap.NO_SPACE) {
          start = vm.map.findSpace(size, 0, NON_FIXED_FLOOR);
        }
        if (start == AddressMap.NO_SPACE) {
          throw new VmFailure(Errno.ENOMEM, "no room for 0x" + Long.toHexString(size) + " bytes");
        }
      } else if (!vm.map.isFree(start, start + size)) {
        if ((flags & MapFlags.MAP_FIXED) == 0) {
          throw new VmFailure(Errno.ENOMEM, "MAP_TRYFIXED range is in use");
        }
        removeRange(start, start + size);
      }
      if (anon && shared) {
        object = new SparseObject(vm.space, size >>> PAGE_SHIFT);
        pos = 0;
      }
      VmEntry e = new VmEntry(start, start + size, prot, flags, object, pos >>> PAGE_SHIFT);
      if (object != null) {
        object.addMapping();
      }
      vm.map.insert(e);
      vm.faults.mapResident(e);
      return start + pageoff;
    } finally {
      vm.lock.unlock();
    }
  }

  // ---------------------------------------------------------------- munmap

  /**
   * {@code vmspace_munmap} after the id lookup.
   *
   * @throws VmFailure EINVAL on a wrap, an end past VM_MAX_USER_ADDRESS, or a range not
   *     entirely mapped
   */
  void munmap(long addr, long len) {
    long start = addr & ~PAGE_MASK;
    long end = Vmspace.roundPage(addr + len);
    if (Long.compareUnsigned(addr + len, addr) < 0 || (end == 0 && addr + len != 0)) {
      throw new VmFailure(Errno.EINVAL, "range wraps");
    }
    if (end == start) {
      return;
    }
    if (Long.compareUnsigned(end, VM_MAX) > 0) {
      throw new VmFailure(Errno.EINVAL, "range ends past VM_MAX_USER_ADDRESS");
    }
    vm.lock.lock();
    try {
      vm.checkAlive();
      if (!vm.map.isFullyMapped(start, end)) {
        throw new VmFailure(Errno.EINVAL, "range is not entirely mapped");
      }
      removeRange(start, end);
    } finally {
      vm.lock.unlock();
    }
  }

  /** Unmaps every page of [start, end) and removes the entries; the revocation is applied. */
  void removeRange(long start, long end) {
    Revocation r = new Revocation();
    vm.tables.revokeRange(start, end, vm::dropLeaf, r);
    List<VmEntry> removed = vm.map.cut(start, end);
    for (VmEntry e : removed) {
      if (e.object != null) {
        e.object.removeMapping(r);
      }
    }
    Vpage v = vm.vpage;
    if (v != null && removed.stream().anyMatch(e -> e.isVpagetable() && e.object == v.object())
        && vm.map.entries().stream().noneMatch(e -> e.isVpagetable() && e.object == v.object())) {
      vm.virtualTables.leaveVpage();
    }
    vm.revoke(r);
  }

  // ---------------------------------------------------------------- mprotect

  /**
   * The {@code mprotect} extension after the id lookup: the entries of the range take the new
   * protection; present leaves are rewritten from the guest (downgrades must be; upgrades are
   * done at once too, so the next access does not fault).
   *
   * @throws VmFailure EINVAL for a misaligned address, a wrap or bad prot bits; ENOMEM for an
   *     end past VM_MAX_USER_ADDRESS or a range not entirely mapped; EINVAL for a
   *     MAP_VPAGETABLE range; EACCES for write access to a shared mapping of a read-only backing
   */
  void mprotect(long addr, long len, int protBits) {
    if ((addr & PAGE_MASK) != 0) {
      throw new VmFailure(Errno.EINVAL, "addr is not page aligned");
    }
    long end = Vmspace.roundPage(addr + len);
    if (Long.compareUnsigned(addr + len, addr) < 0 || (end == 0 && addr + len != 0)) {
      throw new VmFailure(Errno.EINVAL, "range wraps");
    }
    if (!Prot.isValid(protBits)) {
      throw new VmFailure(Errno.EINVAL, "invalid prot 0x" + Integer.toHexString(protBits));
    }
    if (end == addr) {
      return;
    }
    if (Long.compareUnsigned(end, VM_MAX) > 0) {
      throw new VmFailure(Errno.ENOMEM, "range ends past VM_MAX_USER_ADDRESS");
    }
    Prot prot = Prot.of(protBits);
    vm.lock.lock();
    try {
      vm.checkAlive();
      if (!vm.map.isFullyMapped(addr, end)) {
        throw new VmFailure(Errno.ENOMEM, "range is not entirely mapped");
      }
      for (VmEntry e = vm.map.firstEndingAfter(addr); e != null && Long.compareUnsigned(e.start, end) < 0; e = vm.map.next(e)) {
        if (e.isVpagetable()) {
          throw new VmFailure(Errno.EINVAL, "MAP_VPAGETABLE ranges are protected by their tables");
        }
        if (e.isShared() && prot.canWrite() && e.object != null && !e.object.writable()) {
          throw new VmFailure(Errno.EACCES, "write access to a shared mapping of a read-only backing");
        }
      }
      for (VmEntry piece : vm.map.cut(addr, end)) {
        // The removed piece's reference to its object moves to its replacement.
        vm.map.insert(piece.piece(piece.start, piece.end, prot));
      }
      Revocation r = new Revocation();
      vm.tables.revokeRange(addr, end, (va, leaf, out) -> {
        VmEntry e = vm.map.find(va);
        long frame = Pte.address(leaf);
        long wanted = Faults.leafFor(frame, prot, vm.faults.mustCopyOnWrite(e, frame));
        // Keep the accessed and dirty bits the guest has set.
        return wanted | (leaf & (Pte.A | Pte.D));
      }, r);
      vm.revoke(r);
    } finally {
      vm.lock.unlock();
    }
  }

  // ---------------------------------------------------------------- mcontrol

  /**
   * {@code vmspace_mcontrol} after the id lookup.
   *
   * @throws VmFailure EINVAL for a bad behaviour, a wrap, an end past VM_MAX_USER_ADDRESS, or
   *     MADV_SETMAP on a range that is not MAP_VPAGETABLE
   */
  void mcontrol(long addr, long len, int behav, long value) {
    if (behav < 0 || behav > Madvise.MADV_CONTROL_END) {
      throw new VmFailure(Errno.EINVAL, "behav " + behav + " is not 0.." + Madvise.MADV_CONTROL_END);
    }
    long start = addr & ~PAGE_MASK;
    long end = Vmspace.roundPage(addr + len);
    if (Long.compareUnsigned(addr + len, addr) < 0 || (end == 0 && addr + len != 0)) {
      throw new VmFailure(Errno.EINVAL, "range wraps");
    }
    if (Long.compareUnsigned(end, VM_MAX) > 0) {
      throw new VmFailure(Errno.EINVAL, "range ends past VM_MAX_USER_ADDRESS");
    }
    vm.lock.lock();
    try {
      vm.checkAlive();
      if (behav == Madvise.MADV_SETMAP) {
        vm.virtualTables.setmap(start, end, value);
        return;
      }
      switch (behav) {
        case Madvise.MADV_DONTNEED, Madvise.MADV_FREE -> {
          Revocation r = new Revocation();
          vm.tables.revokeRange(start, end, vm::dropLeaf, r);
          vm.revoke(r);
        }
        case Madvise.MADV_WILLNEED -> vm.faults.populate(start, end);
        case Madvise.MADV_HUGEPAGE, Madvise.MADV_NOHUGEPAGE -> advise(start, end, behav);
        case Madvise.MADV_INVAL -> vm.virtualTables.invalidate(start, end);
        default -> {
          // Advisory (NORMAL, RANDOM, SEQUENTIAL, NOSYNC, AUTOSYNC, NOCORE, CORE) and INVAL on
          // ranges the service translates itself: nothing to do.
        }
      }
    } finally {
      vm.lock.unlock();
    }
  }

  /**
   * Records huge-page advice on the mapped parts of {@code [start, end)}, splitting the entries
   * at its bounds; holes are skipped, as for the other advice. Ranges on the caller's own
   * tables ({@code MAP_VPAGETABLE}) are left alone: the service does not fault them in.
   */
  private void advise(long start, long end, int behav) {
    if (Long.compareUnsigned(start, end) >= 0) {
      return; // an empty range: cut would split the entry around it into an empty piece
    }
    for (VmEntry e = vm.map.firstEndingAfter(start); e != null && Long.compareUnsigned(e.start, end) < 0; e = vm.map.next(e)) {
      if (e.isVpagetable()) {
        return;
      }
    }
    for (VmEntry piece : vm.map.cut(start, end)) {
      // The removed piece's reference to its object moves to its replacement, as in mprotect.
      VmEntry advised = piece.piece(piece.start, piece.end, piece.prot);
      advised.hugeAdvice = behav;
      vm.map.insert(advised);
    }
  }
}
