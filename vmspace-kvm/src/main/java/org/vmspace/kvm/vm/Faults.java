package org.vmspace.kvm.vm;

import static org.vmspace.kvm.vm.Vmspace.PAGE;
import static org.vmspace.kvm.vm.Vmspace.PAGE_MASK;
import static org.vmspace.kvm.vm.Vmspace.LEAF_TABLE_SPAN;
import static org.vmspace.kvm.vm.Vmspace.FAULT_AROUND_MAX_PAGES;
import static org.vmspace.kvm.vm.Vmspace.FAULT_AROUND_PAGES;

import java.lang.foreign.MemorySegment;
import org.vmspace.api.Madvise;
import org.vmspace.api.Prot;
import org.vmspace.kvm.paging.Access;
import org.vmspace.kvm.paging.PageWalker;
import org.vmspace.kvm.paging.Pte;
import org.vmspace.kvm.paging.Revocation;
import org.vmspace.kvm.vm.Vmspace.Fault;

/**
 * The fault path of one address space (DragonFly's {@code vm_fault.c}): demand-zero and object
 * pages, copy-on-write, fault-around, MADV_WILLNEED population, and the drop of translations
 * into truncated files. Runs under the address space's lock.
 */
final class Faults {
  private final Vmspace vm;

  Faults(Vmspace vm) {
    this.vm = vm;
  }

  /**
   * After KVM_RUN failed with EFAULT (KVM could not fault in a page of a memory slot): drops
   * the translations into pages of shared file mappings whose file has been truncated below
   * them, so that the guest's next access to one is an ordinary unresolved page fault (SIGBUS for
   * a Linux-like kernel) instead of another EFAULT. Returns whether any translation was dropped;
   * false means the EFAULT had another cause.
   */
  boolean revokeTruncatedFilePages() {
    vm.lock.lock();
    try {
      vm.checkAlive();
      Revocation r = new Revocation();
      boolean[] dropped = {false};
      for (VmEntry e = vm.map.firstEndingAfter(0); e != null; e = vm.map.next(e)) {
        if (!(e.object instanceof FileSlotObject file)) {
          continue;
        }
        file.refresh();
        long valid = file.validPages();
        long firstLost = valid <= e.pgoff ? e.start : e.start + (valid - e.pgoff) * PAGE;
        if (Long.compareUnsigned(firstLost, e.end) < 0) {
          vm.tables.revokeRange(firstLost, e.end, (va, leaf, out) -> {
            dropped[0] = true;
            return vm.dropLeaf(va, leaf, out);
          }, r);
        }
      }
      vm.revoke(r);
      return dropped[0];
    } finally {
      vm.lock.unlock();
    }
  }


  void populate(long start, long end) {
    for (VmEntry e = vm.map.firstEndingAfter(start);
        e != null && Long.compareUnsigned(e.start, end) < 0;
        e = vm.map.next(e)) {
      if (e.prot.bits() == 0) {
        continue;
      }
      long s = Math.max(e.start, start);
      long t = Math.min(e.end, end);
      for (long va = s; va < t; va += PAGE) {
        if (resolveLocked(va, Access.READ) == Fault.NO_MEMORY) {
          return;
        }
      }
    }
  }

  /**
   * Maps, in a new private mapping of a file, the pages the file's cache already holds (BSD's
   * {@code pmap_object_init_pt} at mmap): the second process to exec a program, or to map a
   * library, finds the text that earlier ones read already present and takes no demand fault
   * for it; writable pages are mapped read-only, to be copied on their first write. Pages the
   * cache does not hold stay for demand faults (nothing is read from the file here), and only
   * the first {@link #RESIDENT_SCAN_PAGES} pages of a mapping are looked at. A private mapping
   * of a memory object (the vkernel's vDSO, mapped at every exec) is mapped the same way: its
   * pages always exist, and each exec otherwise took a demand fault for its first read.
   */
  void mapResident(VmEntry e) {
    if (vm.vpage != null || e.prot.bits() == 0 || e.isShared()
        || !(e.object instanceof FileCacheObject || e.object instanceof ServiceMemoryObject)) {
      return;
    }
    mapPresentPages(e);
  }

  /**
   * Maps read-only every page of the first {@link #RESIDENT_SCAN_PAGES} of {@code e} that its
   * object holds and these tables do not, as a read would (private writable pages are then
   * copied on their first write); stops early without memory for tables.
   */
  private void mapPresentPages(VmEntry e) {
    long end = Math.min(e.end, e.start + RESIDENT_SCAN_PAGES * PAGE);
    for (long va = e.start; va < end; va += PAGE) {
      // isPresent reads one entry of the leaf table the last install went to, not a walk.
      if (e.object.frameIfPresent(e.pageIndex(va)) < 0 || vm.tables.isPresent(va)) {
        continue;
      }
      if (mapPage(e, va, Access.READ) != Fault.RESOLVED) {
        return; // out of memory for tables: the rest is demand-faulted
      }
    }
  }

  /** A 2 MiB block: where {@code MADV_HUGEPAGE} starts. */
  private static final int HUGE_BLOCK_PAGES = 512;

  /** How much of a new private file mapping {@link #mapResident} looks at: 32 MiB. */
  static final long RESIDENT_SCAN_PAGES = 8192;

  // ---------------------------------------------------------------- faults

  /**
   * Resolves a user-mode fault on {@code va} as the host kernel would: demand-zero for
   * anonymous memory, the object's page for object mappings, a copy for the first write to a
   * private page shared with an object or another address space.
   *
   * <p>A read or execute fault on a page a file's cache already holds means these tables lack
   * pages the cache has: a forked child running code its parent never ran, whose text other
   * processes read into the cache (a shell's child running a built-in). Such a fault maps every
   * page of the mapping the cache holds, as {@link #mapResident} does at mmap, so the child
   * takes one fault for that text instead of one per fault-around block. A fault on a page the
   * cache lacks (a program's first run) does not scan: its neighbours are not cached either.
   */
  Fault resolve(long va, Access access) {
    vm.lock.lock();
    try {
      if (vm.destroyed) {
        return Fault.INVALID;
      }
      if (FaultLog.ENABLED) {
        FaultLog.before(vm, va & ~PAGE_MASK, access);
      }
      return resolveLocked(va & ~PAGE_MASK, access);
    } finally {
      vm.lock.unlock();
    }
  }

  Fault resolveLocked(long va, Access access) {
    if (vm.vpage != null) {
      return Fault.INVALID; // the caller's tables say so: the caller resolves it
    }
    VmEntry e = vm.map.find(va);
    if (e == null || !permits(e.prot, access)) {
      return Fault.INVALID;
    }
    PageWalker.Translation t = vm.tables.lookup(va);
    if (!t.isPresent()) {
      boolean cached = access != Access.WRITE && e.object instanceof FileCacheObject
          && e.object.frameIfPresent(e.pageIndex(va)) >= 0;
      Fault f = mapPage(e, va, access);
      if (f == Fault.RESOLVED && FAULT_AROUND_PAGES > 1) {
        faultAround(e, va);
      }
      if (f == Fault.RESOLVED && cached) {
        mapPresentPages(e);
      }
      return f;
    }
    if (t.permits(access)) {
      // Present and allowed: another thread mapped it meanwhile; the access will succeed.
      return Fault.RESOLVED;
    }
    if (access == Access.WRITE && (t.leaf() & Pte.RW) == 0) {
      return copyOnWrite(e, va, t);
    }
    // A right the mapping has but the entry lacks (after mprotect widened it): grant it, in
    // place when that only adds rights.
    long frame = Pte.address(t.leaf());
    long granted = leafFor(frame, e.prot, mustCopyOnWrite(e, frame));
    if (!vm.tables.widen(t.entryGpa(), granted)) {
      Revocation r = new Revocation();
      r.store(t.entryGpa(), granted);
      vm.revoke(r);
    }
    return Fault.RESOLVED;
  }

  /**
   * The leaf for a frame mapped with a protection: PROT_NONE is a present but supervisor-only
   * entry (the frame stays, no user access); with {@code copyOnWrite} the write right is left
   * out until the first write copies the page.
   */
  static long leafFor(long frame, Prot prot, boolean copyOnWrite) {
    if (prot.bits() == 0) {
      return (frame & Pte.ADDRESS_MASK) | Pte.P | Pte.A | Pte.NX;
    }
    if (copyOnWrite && prot.canWrite()) {
      prot = Prot.of((prot.bits() & ~Prot.PROT_WRITE) | Prot.PROT_READ);
    }
    return Pte.userLeaf(frame, prot);
  }

  /** Whether a private page's frame is shared (with an object or another address space). */
  boolean mustCopyOnWrite(VmEntry e, long frame) {
    return !e.isShared() && e.prot.canWrite() && !vm.space.soleReference(frame);
  }

  static boolean permits(Prot prot, Access access) {
    return switch (access) {
      case READ -> prot.bits() != 0;
      case WRITE -> prot.canWrite();
      case EXECUTE -> prot.canExecute();
    };
  }

  Fault mapPage(VmEntry e, long va, Access access) {
    long frame;
    Prot prot = e.prot;
    boolean cow = false;
    if (e.object == null) {
      frame = vm.space.newFrame();
      if (frame < 0) {
        return Fault.NO_MEMORY;
      }
    } else {
      long index = e.pageIndex(va);
      long objectFrame = e.object.frame(index);
      if (objectFrame < 0) {
        return index >= e.object.pages() ? Fault.INVALID : Fault.NO_MEMORY;
      }
      if (!e.isShared() && prot.canWrite()) {
        if (access == Access.WRITE) {
          frame = vm.space.newFrame();
          if (frame < 0) {
            return Fault.NO_MEMORY;
          }
          MemorySegment.copy(
              vm.space.memory().host(), objectFrame, vm.space.memory().host(), frame, PAGE);
        } else {
          // Read the object's page until the first write copies it.
          frame = objectFrame;
          vm.space.retain(frame);
          cow = true;
        }
      } else {
        frame = objectFrame;
        vm.space.retain(frame);
      }
    }
    if (!vm.tables.install(va, leafFor(frame, prot, cow))) {
      Revocation r = new Revocation();
      vm.space.release(frame, r);
      vm.revoke(r);
      return Fault.NO_MEMORY;
    }
    return Fault.RESOLVED;
  }

  /**
   * Maps the not-present pages of {@code va}'s aligned fault-around block that the entry covers.
   * The block is {@link Vmspace#FAULT_AROUND_PAGES} pages, or twice the entry's last block when
   * {@code va} is the page just past it or just before it (a sequential touch, upwards or
   * downwards), up to {@link Vmspace#FAULT_AROUND_MAX_PAGES}: Linux's fault-around is a fixed
   * 64 KiB, but there a fault costs a microsecond, and here it is an exit of tens of
   * microseconds. Growth beyond the base block never takes more than an eighth of the free
   * frames, so speculation cannot starve the faults that follow. {@code MADV_HUGEPAGE} on the
   * entry starts at a 2 MiB block (a huge page's worth, or the largest block if smaller) and
   * grows from there; {@code MADV_NOHUGEPAGE} keeps the base block.
   */
  void faultAround(VmEntry e, long va) {
    int pages = FAULT_AROUND_PAGES;
    boolean sequential = e.aroundPages != 0 && (va == e.aroundEnd || va + PAGE == e.aroundStart);
    boolean huge = e.hugeAdvice == Madvise.MADV_HUGEPAGE;
    if (e.hugeAdvice != Madvise.MADV_NOHUGEPAGE && (sequential || huge)) {
      int grown = sequential ? e.aroundPages * 2 : 0;
      int least = huge ? Math.min(HUGE_BLOCK_PAGES, FAULT_AROUND_MAX_PAGES) : FAULT_AROUND_PAGES;
      pages = Math.min(Math.max(grown, least), FAULT_AROUND_MAX_PAGES);
      if (e.object == null) {
        long spare = (vm.space.frames().frameLimit() - vm.space.frames().framesInUse()) / 8;
        while (pages > FAULT_AROUND_PAGES && pages > spare) {
          pages /= 2;
        }
      }
    }
    long block = pages * PAGE;
    long start = Math.max(e.start, va & ~(block - 1));
    long end = Math.min(e.end, (va & ~(block - 1)) + block);
    e.aroundStart = start;
    e.aroundEnd = end;
    e.aroundPages = pages;
    if (e.object == null && mapAnonymousRun(e, start, end)) {
      return;
    }
    for (long p = start; p < end; p += PAGE) {
      if (p == va || vm.tables.isPresent(p)) {
        continue;
      }
      if (e.object != null && e.object.frameIfPresent(e.pageIndex(p)) < 0) {
        continue; // never allocate object pages speculatively
      }
      if (mapPage(e, p, Access.READ) != Fault.RESOLVED) {
        return; // out of memory: the neighbours are only an optimisation
      }
    }
  }

  /**
   * Fault-around's block of an anonymous mapping in bulk, one leaf table (2 MiB) at a time: one
   * read of the table's entries for the block, one allocation of frames for the not-present
   * ones, one store per run of them. A page at a time, a 2 MiB block was 512 walks, allocations
   * and stores. A missing leaf table is made by mapping its first page of the block the usual
   * way. Short of frames, the block's last pages stay unmapped, as the neighbours are only an
   * optimisation. False, before anything is mapped, when the block's first table is not there
   * and cannot be cached as expected (a large page covers it): the caller goes a page at a time.
   */
  private boolean mapAnonymousRun(VmEntry e, long start, long end) {
    for (long chunk = start; chunk < end; ) {
      long next = Math.min(end, (chunk & -LEAF_TABLE_SPAN) + LEAF_TABLE_SPAN);
      int count = (int) ((next - chunk) / PAGE);
      long[] before = vm.tables.cachedLeafRun(chunk, count);
      if (before == null && !vm.tables.cacheLeafTable(chunk)) {
        if (vm.tables.isPresent(chunk)) {
          return chunk != start; // a large page: leave the rest to the page-at-a-time loop
        }
        if (mapPage(e, chunk, Access.READ) != Fault.RESOLVED) {
          return true; // out of memory
        }
      }
      if (before == null) {
        before = vm.tables.cachedLeafRun(chunk, count);
      }
      if (before == null || !fillRun(e, chunk, before)) {
        return true;
      }
      chunk = next;
    }
    return true;
  }

  /** Maps fresh frames at the not-present entries of a leaf-table run; false if frames ran out. */
  private boolean fillRun(VmEntry e, long chunk, long[] before) {
    int count = before.length;
    int missing = 0;
    for (long entry : before) {
      if (!Pte.isPresent(entry)) {
        missing++;
      }
    }
    if (missing == 0) {
      return true;
    }
    long[] frames = new long[missing];
    int got = vm.space.newFrames(frames, missing);
    long[] leaves = new long[count];
    for (int i = 0, k = 0; i < count && k < got; i++) {
      if (!Pte.isPresent(before[i])) {
        leaves[i] = leafFor(frames[k++], e.prot, false);
      }
    }
    vm.tables.installRun(chunk, before, leaves);
    return got == missing;
  }

  /**
   * A write to a read-only page of a private writable mapping: the page gets its own frame (or
   * keeps its frame if nothing else refers to it any more), and so do the other such pages of
   * its aligned block, all in one guest-side revocation. After a fork both sides write a run of
   * stack, heap and data pages; on this hypervisor each fault costs a full exit and each
   * revocation a maintenance run, while copying a page costs well under a microsecond.
   */
  Fault copyOnWrite(VmEntry e, long va, PageWalker.Translation t) {
    Revocation r = new Revocation();
    if (!ownPage(e, t, r)) {
      return Fault.NO_MEMORY;
    }
    if (FAULT_AROUND_PAGES > 1) {
      ownAround(e, va, r);
    }
    // Present entries change: only a guest-side store is seen by every vCPU.
    vm.revoke(r);
    return Fault.RESOLVED;
  }

  /** Queues the store that gives a copy-on-write page its own writable frame; false without memory. */
  boolean ownPage(VmEntry e, PageWalker.Translation t, Revocation r) {
    long old = Pte.address(t.leaf());
    long replacement;
    if (vm.space.soleReference(old)) {
      // The only reference (the other side of a fork has exec'd or exited): keep the frame and
      // allow writes, in place, as the rights only widen; no revocation, no shootdown.
      replacement = leafFor(old, e.prot, false);
      if (vm.tables.widen(t.entryGpa(), replacement)) {
        return true;
      }
    } else {
      long copy = vm.space.newFrame();
      if (copy < 0) {
        return false;
      }
      MemorySegment.copy(vm.space.memory().host(), old, vm.space.memory().host(), copy, PAGE);
      replacement = leafFor(copy, e.prot, false);
      vm.space.release(old, r);
    }
    r.store(t.entryGpa(), replacement);
    return true;
  }

  /**
   * The other read-only pages of {@code va}'s block in the same private writable mapping whose
   * frames another address space shares (or nobody does any more). An object's own pages (read
   * but never written) stay shared with the object, except in a private file mapping no larger
   * than one block: that is a program's data segment, whose pages start-up writes one after the
   * other (four of seven pages in a static glibc program, each a fault and a revocation batch
   * at every exec), and a file cache page never changes, so an early copy reads the same as a
   * late one.
   */
  void ownAround(VmEntry e, long va, Revocation r) {
    if (e.isShared() || !e.prot.canWrite()) {
      return;
    }
    boolean ownObjectPages = e.object instanceof FileCacheObject
        && Long.compareUnsigned(e.end - e.start, FAULT_AROUND_PAGES * PAGE) <= 0;
    long block = FAULT_AROUND_PAGES * PAGE;
    long start = Math.max(e.start, va & ~(block - 1));
    long end = Math.min(e.end, (va & ~(block - 1)) + block);
    for (long p = start; p < end; p += PAGE) {
      if (p == va) {
        continue;
      }
      PageWalker.Translation n = vm.tables.lookup(p);
      long leaf = n.leaf();
      if (!n.isPresent() || (leaf & Pte.RW) != 0 || (leaf & Pte.US) == 0) {
        continue;
      }
      if (!ownObjectPages && e.object != null && e.object.frameIfPresent(e.pageIndex(p)) == Pte.address(leaf)) {
        continue;
      }
      if (!ownPage(e, n, r)) {
        return; // out of memory: the neighbours are only an optimisation
      }
    }
  }
}
