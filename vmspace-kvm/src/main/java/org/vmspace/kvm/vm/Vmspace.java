package org.vmspace.kvm.vm;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import org.vmspace.api.Backing;
import org.vmspace.api.Errno;
import org.vmspace.api.Madvise;
import org.vmspace.api.MapFlags;
import org.vmspace.api.Prot;
import org.vmspace.api.VmspaceService;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.paging.PageTables;
import org.vmspace.kvm.paging.PageWalker;
import org.vmspace.kvm.paging.Access;
import org.vmspace.kvm.paging.Pte;
import org.vmspace.kvm.paging.Revocation;
import org.vmspace.kvm.paging.TableWalker;

/**
 * One address space: its map of entries, its page tables, and the memory calls of the contract
 * with their checks in the contract's order. Page-table changes follow one rule: host-side
 * stores only make non-present entries present; everything else is a {@link Revocation} applied
 * by the context before the call returns, so no vCPU can use a translation after the call that
 * removed it.
 *
 * <p>Thread-safe: one lock per address space serialises the calls and the fault handler.
 */
public final class Vmspace {
  /** The end of the user range. */
  public static final long VM_MAX = VmspaceService.VM_MAX_USER_ADDRESS;
  static final long PAGE = GuestMemory.PAGE;
  static final long PAGE_MASK = PAGE - 1;
  /** Non-fixed mappings are placed at or above this address, never on page 0. */
  public static final long NON_FIXED_FLOOR = 0x10000;
  private static final int KNOWN_FLAGS = MapFlags.KNOWN;
  /**
   * Fault-around: a demand fault also maps the other not-present pages of its naturally
   * aligned block of this many pages (within the same mapping), so a sequential first touch
   * costs one exit per block instead of one per page. Anonymous pages are allocated for it (as
   * Linux does with transparent huge pages); object pages are mapped only if they exist. A
   * power of two; 1 turns it off. System property {@code vmspace.faultAround}.
   */
  public static final int FAULT_AROUND_PAGES = faultAroundPages();

  /** Turns the caller's backing into this context's object, or fails with EBADF. */
  @FunctionalInterface
  public interface BackingResolver {
    /**
     * @param shared whether the mapping is {@code MAP_SHARED} (a file then maps its host pages;
     *     privately it maps a copy-on-write cache of them)
     */
    VmObject resolve(Backing backing, boolean shared);
  }

  /** How a fault was handled. */
  public enum Fault {
    /** A page was mapped (or already was): re-run the access. */
    RESOLVED,
    /** The access is not allowed by the mapping, or there is no mapping. */
    INVALID,
    /** The memory limit prevents mapping the page. */
    NO_MEMORY
  }

  private final long id;
  private final PhysicalSpace space;
  private final PageTables tables;
  private final AddressMap map = new AddressMap(VM_MAX);
  private final ReentrantLock lock = new ReentrantLock();
  private boolean destroyed;
  /** Set by MADV_SETMAP: the address space then runs on the caller's tables in that domain. */
  private volatile Vpage vpage;
  /** Threads running this address space on the caller's tables now (to stop on revocation). */
  private final java.util.Set<Thread> vpageRunners = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /**
   * The caller's page tables in force: the domain they are walked in, the CR3 value (root with
   * its PWT/PCD bits), and the memory object that holds them.
   */
  public record Vpage(ExecutionDomain domain, long cr3, ServiceMemoryObject object) {}

  private Vmspace(long id, PhysicalSpace space, PageTables tables) {
    this.id = id;
    this.space = space;
    this.tables = tables;
  }

  /**
   * A new empty address space.
   *
   * @throws VmFailure ENOMEM if no frame is left for its root table
   */
  public static Vmspace create(long id, PhysicalSpace space) {
    PageTables t = PageTables.create(space.tableMemory(), space.templateRoot());
    if (t == null) {
      throw new VmFailure(Errno.ENOMEM, "no memory for the page-table root");
    }
    return new Vmspace(id, space, t);
  }

  /** The id. */
  public long id() {
    return id;
  }

  /** The value for CR3 while this address space runs. */
  public long cr3() {
    Vpage v = vpage;
    return v != null ? v.cr3() : tables.root();
  }

  /** The caller's tables in force (after MADV_SETMAP), or null: runs use the service's own. */
  public Vpage vpage() {
    return vpage;
  }

  /** Registers a thread running on the caller's tables, to be stopped if they are revoked. */
  public void enterVpageRun(Thread t) {
    vpageRunners.add(t);
  }

  /** The thread no longer runs on the caller's tables. */
  public void exitVpageRun(Thread t) {
    vpageRunners.remove(t);
  }

  /** The page tables (tests and the run loop's instruction reads). */
  public PageTables tables() {
    return tables;
  }

  // ---------------------------------------------------------------- mmap

  /**
   * {@code vmspace_mmap} after the id lookup: checks in the contract's order, then maps.
   *
   * @return the address of the mapping
   * @throws VmFailure with the first errno that applies
   */
  public long mmap(
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
    long size = roundPage(len + pageoff);
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
      if (Long.compareUnsigned(pos / PAGE + size / PAGE, object.pages()) > 0) {
        // Like a file mapping past EOF: allowed by mmap(2), but those pages fault (SIGBUS).
        // Refuse mappings that start past the end outright.
        if (Long.compareUnsigned(pos / PAGE, object.pages()) >= 0) {
          throw new VmFailure(Errno.EINVAL, "offset past the end of the backing");
        }
      }
    }
    if ((flags & MapFlags.MAP_VPAGETABLE) != 0
        && !(object instanceof ServiceMemoryObject && pos == 0 && shared)) {
      throw new VmFailure(Errno.EINVAL,
          "MAP_VPAGETABLE needs MAP_SHARED of a memory object at offset 0 (its offsets are the tables' physical addresses)");
    }
    lock.lock();
    try {
      checkAlive();
      // Linux's heuristic overcommit: memory is taken when touched, so only a writable anonymous
      // mapping that could never be backed (larger than the whole limit) is refused; PROT_NONE,
      // read-only and MAP_NORESERVE reservations cost nothing until touched.
      if (anon && prot.canWrite() && (flags & MapFlags.MAP_NORESERVE) == 0
          && Long.compareUnsigned(size / PAGE, space.frames().frameLimit()) > 0) {
        throw new VmFailure(Errno.ENOMEM, "writable mapping larger than the memory limit");
      }
      if (!fixed) {
        long hint = roundPage(addr);
        start = map.findSpace(size, hint, NON_FIXED_FLOOR);
        if (start < 0) {
          start = map.findSpace(size, 0, NON_FIXED_FLOOR);
        }
        if (start < 0) {
          throw new VmFailure(Errno.ENOMEM, "no room for 0x" + Long.toHexString(size) + " bytes");
        }
      } else if (!map.isFree(start, start + size)) {
        if ((flags & MapFlags.MAP_FIXED) == 0) {
          throw new VmFailure(Errno.ENOMEM, "MAP_TRYFIXED range is in use");
        }
        removeRange(start, start + size);
      }
      if (anon && shared) {
        object = new SparseObject(space, size / PAGE);
        pos = 0;
      }
      VmEntry e = new VmEntry(start, start + size, prot, flags, object, pos / PAGE);
      if (object != null) {
        object.addMapping();
      }
      map.insert(e);
      return start + pageoff;
    } finally {
      lock.unlock();
    }
  }

  // ---------------------------------------------------------------- munmap

  /**
   * {@code vmspace_munmap} after the id lookup.
   *
   * @throws VmFailure EINVAL on a wrap, an end past VM_MAX_USER_ADDRESS, or a range not
   *     entirely mapped
   */
  public void munmap(long addr, long len) {
    long start = addr & ~PAGE_MASK;
    long end = roundPage(addr + len);
    if (Long.compareUnsigned(addr + len, addr) < 0 || (end == 0 && addr + len != 0)) {
      throw new VmFailure(Errno.EINVAL, "range wraps");
    }
    if (end == start) {
      return;
    }
    if (Long.compareUnsigned(end, VM_MAX) > 0) {
      throw new VmFailure(Errno.EINVAL, "range ends past VM_MAX_USER_ADDRESS");
    }
    lock.lock();
    try {
      checkAlive();
      if (!map.isFullyMapped(start, end)) {
        throw new VmFailure(Errno.EINVAL, "range is not entirely mapped");
      }
      removeRange(start, end);
    } finally {
      lock.unlock();
    }
  }

  /** Unmaps every page of [start, end) and removes the entries; the revocation is applied. */
  private void removeRange(long start, long end) {
    Revocation r = new Revocation();
    tables.revokeRange(start, end, this::dropLeaf, r);
    List<VmEntry> removed = map.cut(start, end);
    for (VmEntry e : removed) {
      if (e.object != null) {
        e.object.removeMapping(r);
      }
    }
    Vpage v = vpage;
    if (v != null && removed.stream().anyMatch(e -> e.isVpagetable() && e.object == v.object())
        && map.entries().stream().noneMatch(e -> e.isVpagetable() && e.object == v.object())) {
      leaveVpage();
    }
    space.revoke(r);
  }

  /** Drops the caller's tables: stops runs on them before anything they map is released. */
  private void leaveVpage() {
    vpage = null;
    space.stopRuns(List.copyOf(vpageRunners));
  }

  /** A leaf rewriter that unmaps and drops the leaf's frame reference. */
  private long dropLeaf(long va, long leaf, Revocation r) {
    space.release(Pte.address(leaf), r);
    return 0;
  }

  /**
   * After KVM_RUN failed with EFAULT (KVM could not fault in a page of a memory slot): drops
   * the translations into pages of shared file mappings whose file has been truncated below
   * them, so that the guest's next access to one is an ordinary unresolved page fault (SIGBUS for
   * a Linux-like kernel) instead of another EFAULT. Returns whether any translation was dropped;
   * false means the EFAULT had another cause.
   */
  public boolean revokeTruncatedFilePages() {
    lock.lock();
    try {
      checkAlive();
      Revocation r = new Revocation();
      boolean[] dropped = {false};
      for (VmEntry e = map.firstEndingAfter(0); e != null; e = map.next(e)) {
        if (!(e.object instanceof FileSlotObject file)) {
          continue;
        }
        file.refresh();
        long valid = file.validPages();
        long firstLost = valid <= e.pgoff ? e.start : e.start + (valid - e.pgoff) * PAGE;
        if (Long.compareUnsigned(firstLost, e.end) < 0) {
          tables.revokeRange(firstLost, e.end, (va, leaf, out) -> {
            dropped[0] = true;
            return dropLeaf(va, leaf, out);
          }, r);
        }
      }
      space.revoke(r);
      return dropped[0];
    } finally {
      lock.unlock();
    }
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
  public void mprotect(long addr, long len, int protBits) {
    if ((addr & PAGE_MASK) != 0) {
      throw new VmFailure(Errno.EINVAL, "addr is not page aligned");
    }
    long end = roundPage(addr + len);
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
    lock.lock();
    try {
      checkAlive();
      if (!map.isFullyMapped(addr, end)) {
        throw new VmFailure(Errno.ENOMEM, "range is not entirely mapped");
      }
      for (VmEntry e = map.firstEndingAfter(addr); e != null && Long.compareUnsigned(e.start, end) < 0; e = map.next(e)) {
        if (e.isVpagetable()) {
          throw new VmFailure(Errno.EINVAL, "MAP_VPAGETABLE ranges are protected by their tables");
        }
        if (e.isShared() && prot.canWrite() && e.object != null && !e.object.writable()) {
          throw new VmFailure(Errno.EACCES, "write access to a shared mapping of a read-only backing");
        }
      }
      for (VmEntry piece : map.cut(addr, end)) {
        // The removed piece's reference to its object moves to its replacement.
        map.insert(new VmEntry(piece.start, piece.end, prot, piece.flags, piece.object, piece.pgoff));
      }
      Revocation r = new Revocation();
      tables.revokeRange(addr, end, (va, leaf, out) -> {
        VmEntry e = map.find(va);
        long frame = Pte.address(leaf);
        long wanted = leafFor(frame, prot, mustCopyOnWrite(e, frame));
        // Keep the accessed and dirty bits the guest has set.
        return wanted | (leaf & (Pte.A | Pte.D));
      }, r);
      space.revoke(r);
    } finally {
      lock.unlock();
    }
  }

  // ---------------------------------------------------------------- fork

  /**
   * A copy-on-write copy of this address space under {@code childId}: every mapping is copied;
   * shared ones share their pages; private pages are shared read-only by both until one writes
   * (the parent's writable entries are downgraded from the guest before this returns).
   *
   * @throws VmFailure EINVAL while on MAP_VPAGETABLE tables; ENOMEM without memory for the
   *     child's tables
   */
  public Vmspace fork(long childId) {
    lock.lock();
    try {
      checkAlive();
      if (vpage != null) {
        throw new VmFailure(Errno.EINVAL, "an address space on its MAP_VPAGETABLE tables cannot be forked");
      }
      Vmspace child = create(childId, space);
      for (VmEntry e : map.entries()) {
        VmEntry copy = new VmEntry(e.start, e.end, e.prot, e.flags, e.object, e.pgoff);
        if (e.object != null) {
          e.object.addMapping();
        }
        child.map.insert(copy);
      }
      Revocation parentDowngrades = new Revocation();
      boolean[] failed = {false};
      tables.revokeRange(0, 1L << 47, (va, leaf, out) -> {
        VmEntry e = map.find(va);
        long frame = Pte.address(leaf);
        boolean cow = !e.isShared() && (leaf & Pte.RW) != 0;
        long shared = cow ? leaf & ~(Pte.RW | Pte.D) : leaf;
        if (!failed[0]) {
          space.retain(frame);
          if (!child.tables.install(va, shared)) {
            failed[0] = true;
            Revocation undo = new Revocation();
            space.release(frame, undo);
            space.revoke(undo);
          }
        }
        return shared;
      }, parentDowngrades);
      space.revoke(parentDowngrades);
      if (failed[0]) {
        child.destroy();
        throw new VmFailure(Errno.ENOMEM, "no memory for the child's page tables");
      }
      return child;
    } finally {
      lock.unlock();
    }
  }

  // ---------------------------------------------------------------- mcontrol

  /**
   * {@code vmspace_mcontrol} after the id lookup.
   *
   * @throws VmFailure EINVAL for a bad behaviour, a wrap, an end past VM_MAX_USER_ADDRESS, or
   *     MADV_SETMAP on a range that is not MAP_VPAGETABLE
   */
  public void mcontrol(long addr, long len, int behav, long value) {
    if (behav < 0 || behav > Madvise.MADV_CONTROL_END) {
      throw new VmFailure(Errno.EINVAL, "behav " + behav + " is not 0.." + Madvise.MADV_CONTROL_END);
    }
    long start = addr & ~PAGE_MASK;
    long end = roundPage(addr + len);
    if (Long.compareUnsigned(addr + len, addr) < 0 || (end == 0 && addr + len != 0)) {
      throw new VmFailure(Errno.EINVAL, "range wraps");
    }
    if (Long.compareUnsigned(end, VM_MAX) > 0) {
      throw new VmFailure(Errno.EINVAL, "range ends past VM_MAX_USER_ADDRESS");
    }
    lock.lock();
    try {
      checkAlive();
      if (behav == Madvise.MADV_SETMAP) {
        setmap(start, end, value);
        return;
      }
      switch (behav) {
        case Madvise.MADV_DONTNEED, Madvise.MADV_FREE -> {
          Revocation r = new Revocation();
          tables.revokeRange(start, end, this::dropLeaf, r);
          space.revoke(r);
        }
        case Madvise.MADV_WILLNEED -> populate(start, end);
        case Madvise.MADV_INVAL -> invalidate(start, end);
        default -> {
          // Advisory (NORMAL, RANDOM, SEQUENTIAL, NOSYNC, AUTOSYNC, NOCORE, CORE) and INVAL on
          // ranges the service translates itself: nothing to do.
        }
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * MADV_SETMAP: the caller's x86-64 tables in the memory object mapped MAP_VPAGETABLE over the
   * range become this address space's: {@code value}'s frame is the root (an offset in the
   * object), its PWT/PCD bits go into CR3, and the hardware walks them from the next run. Entry
   * 511 of the root is reserved for the service's kernel image (it must be 0 or already that).
   */
  private void setmap(long start, long end, long value) {
    ServiceMemoryObject object = null;
    boolean any = false;
    for (VmEntry e = map.firstEndingAfter(start);
        e != null && Long.compareUnsigned(e.start, end) < 0;
        e = map.next(e)) {
      if (!e.isVpagetable() || (object != null && e.object != object)) {
        throw new VmFailure(Errno.EINVAL, "MADV_SETMAP on a range that is not MAP_VPAGETABLE");
      }
      object = (ServiceMemoryObject) e.object;
      any = true;
    }
    if (!any) {
      throw new VmFailure(Errno.EINVAL, "MADV_SETMAP on a range that is not MAP_VPAGETABLE");
    }
    long root = value & Pte.ADDRESS_MASK;
    if (root + PAGE > object.size()) {
      throw new VmFailure(Errno.EINVAL, "root 0x" + Long.toHexString(root) + " is outside the memory object");
    }
    ExecutionDomain domain = space.vpageDomain(object);
    long reserved = root + 8L * 511;
    long current = domain.tableMemory().read(reserved);
    long kernel = domain.kernelPml4Entry();
    if (current != 0 && current != kernel) {
      throw new VmFailure(Errno.EINVAL, "entry 511 of the root is reserved for the service");
    }
    if (current == 0) {
      domain.tableMemory().write(reserved, kernel); // not present -> present: seen without help
    }
    Vpage old = vpage;
    vpage = new Vpage(domain, root | (value & (Pte.PWT | Pte.PCD)), object);
    if (old != null && old.domain() != domain) {
      space.stopRuns(List.copyOf(vpageRunners));
    }
  }

  /**
   * MADV_INVAL on the caller's tables: every entry on the walk of every page of the range is
   * stored again, from the guest, with its current value, so that a shadow-paging host drops the
   * old translations (a host-side change of a present entry is otherwise never seen). Entries
   * above a non-present one are stored once for the whole span they cover.
   */
  private void invalidate(long start, long end) {
    Vpage v = vpage;
    if (v == null || start == end) {
      return;
    }
    Revocation r = new Revocation();
    new TableWalker(v.domain().tableMemory()).walk(v.cr3(), start, end, new TableWalker.Restore(r));
    v.domain().revoke(r);
  }

  private void populate(long start, long end) {
    for (VmEntry e = map.firstEndingAfter(start);
        e != null && Long.compareUnsigned(e.start, end) < 0;
        e = map.next(e)) {
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

  // ---------------------------------------------------------------- faults

  /**
   * Resolves a user-mode fault on {@code va} as the host kernel would: demand-zero for
   * anonymous memory, the object's page for object mappings, a copy for the first write to a
   * private page shared with an object or another address space.
   */
  public Fault resolve(long va, Access access) {
    lock.lock();
    try {
      if (destroyed) {
        return Fault.INVALID;
      }
      return resolveLocked(va & ~PAGE_MASK, access);
    } finally {
      lock.unlock();
    }
  }

  private Fault resolveLocked(long va, Access access) {
    if (vpage != null) {
      return Fault.INVALID; // the caller's tables say so: the caller resolves it
    }
    VmEntry e = map.find(va);
    if (e == null || !permits(e.prot, access)) {
      return Fault.INVALID;
    }
    PageWalker.Translation t = tables.lookup(va);
    if (!t.isPresent()) {
      Fault f = mapPage(e, va, access);
      if (f == Fault.RESOLVED && FAULT_AROUND_PAGES > 1) {
        faultAround(e, va);
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
    // A right the mapping has but the entry lacks (after mprotect widened it): grant it.
    long frame = Pte.address(t.leaf());
    Revocation r = new Revocation();
    r.store(t.entryGpa(), leafFor(frame, e.prot, mustCopyOnWrite(e, frame)));
    space.revoke(r);
    return Fault.RESOLVED;
  }

  /**
   * The leaf for a frame mapped with a protection: PROT_NONE is a present but supervisor-only
   * entry (the frame stays, no user access); with {@code copyOnWrite} the write right is left
   * out until the first write copies the page.
   */
  private static long leafFor(long frame, Prot prot, boolean copyOnWrite) {
    if (prot.bits() == 0) {
      return (frame & Pte.ADDRESS_MASK) | Pte.P | Pte.A | Pte.NX;
    }
    if (copyOnWrite && prot.canWrite()) {
      prot = Prot.of((prot.bits() & ~Prot.PROT_WRITE) | Prot.PROT_READ);
    }
    return Pte.userLeaf(frame, prot);
  }

  /** Whether a private page's frame is shared (with an object or another address space). */
  private boolean mustCopyOnWrite(VmEntry e, long frame) {
    return !e.isShared() && e.prot.canWrite() && !space.soleReference(frame);
  }

  private static boolean permits(Prot prot, Access access) {
    return switch (access) {
      case READ -> prot.bits() != 0;
      case WRITE -> prot.canWrite();
      case EXECUTE -> prot.canExecute();
    };
  }

  private Fault mapPage(VmEntry e, long va, Access access) {
    long frame;
    Prot prot = e.prot;
    boolean cow = false;
    if (e.object == null) {
      frame = space.newFrame();
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
          frame = space.newFrame();
          if (frame < 0) {
            return Fault.NO_MEMORY;
          }
          MemorySegment.copy(
              space.memory().host(), objectFrame, space.memory().host(), frame, PAGE);
        } else {
          // Read the object's page until the first write copies it.
          frame = objectFrame;
          space.retain(frame);
          cow = true;
        }
      } else {
        frame = objectFrame;
        space.retain(frame);
      }
    }
    if (!tables.install(va, leafFor(frame, prot, cow))) {
      Revocation r = new Revocation();
      space.release(frame, r);
      space.revoke(r);
      return Fault.NO_MEMORY;
    }
    return Fault.RESOLVED;
  }

  /** Maps the not-present pages of {@code va}'s aligned block that the entry covers. */
  private void faultAround(VmEntry e, long va) {
    long block = FAULT_AROUND_PAGES * PAGE;
    long start = Math.max(e.start, va & ~(block - 1));
    long end = Math.min(e.end, (va & ~(block - 1)) + block);
    for (long p = start; p < end; p += PAGE) {
      if (p == va || tables.lookup(p).isPresent()) {
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
   * A write to a read-only page of a private writable mapping: the page gets its own frame (or
   * keeps its frame if nothing else refers to it any more), and so do the other such pages of
   * its aligned block, all in one guest-side revocation. After a fork both sides write a run of
   * stack, heap and data pages; on this hypervisor each fault costs a full exit and each
   * revocation a maintenance run, while copying a page costs well under a microsecond.
   */
  private Fault copyOnWrite(VmEntry e, long va, PageWalker.Translation t) {
    Revocation r = new Revocation();
    if (!ownPage(e, t, r)) {
      return Fault.NO_MEMORY;
    }
    if (FAULT_AROUND_PAGES > 1) {
      ownAround(e, va, r);
    }
    // Present entries change: only a guest-side store is seen by every vCPU.
    space.revoke(r);
    return Fault.RESOLVED;
  }

  /** Queues the store that gives a copy-on-write page its own writable frame; false without memory. */
  private boolean ownPage(VmEntry e, PageWalker.Translation t, Revocation r) {
    long old = Pte.address(t.leaf());
    long replacement;
    if (space.soleReference(old)) {
      // The only reference: keep the frame, just allow writes.
      replacement = leafFor(old, e.prot, false);
    } else {
      long copy = space.newFrame();
      if (copy < 0) {
        return false;
      }
      MemorySegment.copy(space.memory().host(), old, space.memory().host(), copy, PAGE);
      replacement = leafFor(copy, e.prot, false);
      space.release(old, r);
    }
    r.store(t.entryGpa(), replacement);
    return true;
  }

  /**
   * The other read-only pages of {@code va}'s block in the same private writable mapping whose
   * frames another address space shares (or nobody does any more); an object's own pages (read
   * but never written) stay as they are.
   */
  private void ownAround(VmEntry e, long va, Revocation r) {
    if (e.isShared() || !e.prot.canWrite()) {
      return;
    }
    long block = FAULT_AROUND_PAGES * PAGE;
    long start = Math.max(e.start, va & ~(block - 1));
    long end = Math.min(e.end, (va & ~(block - 1)) + block);
    for (long p = start; p < end; p += PAGE) {
      if (p == va) {
        continue;
      }
      PageWalker.Translation n = tables.lookup(p);
      long leaf = n.leaf();
      if (!n.isPresent() || (leaf & Pte.RW) != 0 || (leaf & Pte.US) == 0) {
        continue;
      }
      if (e.object != null && e.object.frameIfPresent(e.pageIndex(p)) == Pte.address(leaf)) {
        continue;
      }
      if (!ownPage(e, n, r)) {
        return; // out of memory: the neighbours are only an optimisation
      }
    }
  }

  // ---------------------------------------------------------------- pread / pwrite

  /**
   * Copies guest memory at {@code addr} into {@code dst}, stopping at the first page the
   * mapping does not let the guest read.
   *
   * @return the number of bytes copied
   */
  public long pread(MemorySegment dst, long len, long addr) {
    return copy(dst, len, addr, false);
  }

  /**
   * Copies {@code src} into guest memory at {@code addr}, stopping at the first page the
   * mapping does not let the guest write.
   *
   * @return the number of bytes copied
   */
  public long pwrite(MemorySegment src, long len, long addr) {
    return copy(src, len, addr, true);
  }

  private long copy(MemorySegment buffer, long len, long addr, boolean write) {
    Access access = write ? Access.WRITE : Access.READ;
    long done = 0;
    lock.lock();
    try {
      checkAlive();
      Vpage v = vpage;
      if (v != null) {
        return copyThroughCallerTables(v, buffer, len, addr, write);
      }
      while (done < len) {
        long va = addr + done;
        if (Long.compareUnsigned(va, VM_MAX) >= 0 || va < 0) {
          break;
        }
        long chunk = Math.min(len - done, PAGE - (va & PAGE_MASK));
        PageWalker.Translation t = tables.lookup(va);
        if (!t.permits(access) || !entryPermits(va, access)) {
          VmEntry e = map.find(va);
          if (!write && e != null && e.object == null && e.prot.bits() != 0 && !t.isPresent()) {
            // An untouched anonymous page reads as zeros: no need to allocate it.
            buffer.asSlice(done, chunk).fill((byte) 0);
            done += chunk;
            continue;
          }
          if (resolveLocked(va & ~PAGE_MASK, access) != Fault.RESOLVED) {
            break;
          }
          t = tables.lookup(va);
          if (!t.permits(access)) {
            break;
          }
        }
        MemorySegment memory = space.memory().host();
        long offset = t.physical(va);
        if (Long.compareUnsigned(offset, memory.byteSize()) >= 0) {
          memory = fileSlotAt(va, offset);
          offset = 0;
          if (memory == null) {
            break;
          }
        }
        if (write) {
          MemorySegment.copy(buffer, done, memory, offset, chunk);
        } else {
          MemorySegment.copy(memory, offset, buffer, done, chunk);
        }
        done += chunk;
      }
      return done;
    } finally {
      lock.unlock();
    }
  }

  /**
   * The host memory from guest-physical {@code pa} on, when {@code pa} is past guest memory: the
   * slot of the shared file mapping at {@code va}, whose frame it is; null if it is not one
   * (not expected: the tables point only into guest memory and file slots).
   */
  private MemorySegment fileSlotAt(long va, long pa) {
    VmEntry e = map.find(va);
    return e != null && e.object instanceof FileSlotObject file ? file.hostAt(pa) : null;
  }

  /** pread/pwrite on the caller's tables: their translations and permissions, no faults resolved. */
  private long copyThroughCallerTables(Vpage v, MemorySegment buffer, long len, long addr, boolean write) {
    PageWalker walker = new PageWalker(v.domain().tableMemory());
    MemorySegment object = v.object().segment();
    long done = 0;
    while (done < len) {
      long va = addr + done;
      long chunk = Math.min(len - done, PAGE - (va & PAGE_MASK));
      PageWalker.Translation t = walker.walk(v.cr3(), va);
      if (!t.permits(write ? Access.WRITE : Access.READ)) {
        break;
      }
      long pa = t.physical(va);
      if (pa < 0 || pa + chunk > object.byteSize()) {
        break; // outside the object: nothing is there
      }
      if (write) {
        MemorySegment.copy(buffer, done, object, pa, chunk);
      } else {
        MemorySegment.copy(object, pa, buffer, done, chunk);
      }
      done += chunk;
    }
    return done;
  }

  /**
   * A byte of user memory as the guest would fetch it, or -1 if not mapped (for reporting the
   * address of a guest's own I/O instruction).
   */
  public int readUserByte(long va) {
    byte[] b = new byte[1];
    return copy(MemorySegment.ofArray(b), 1, va, false) == 1 ? Byte.toUnsignedInt(b[0]) : -1;
  }

  private boolean entryPermits(long va, Access access) {
    VmEntry e = map.find(va);
    return e != null && permits(e.prot, access);
  }

  // ---------------------------------------------------------------- teardown

  /**
   * Tears the address space down: every translation revoked, every table and private frame
   * freed, every object reference dropped. Called once, when the registry releases the entry.
   */
  public void destroy() {
    lock.lock();
    try {
      if (destroyed) {
        return;
      }
      destroyed = true;
      if (vpage != null) {
        leaveVpage();
      }
      Revocation r = new Revocation();
      tables.revokeAll(r, this::dropLeaf);
      for (VmEntry e : map.entries()) {
        map.remove(e);
        if (e.object != null) {
          e.object.removeMapping(r);
        }
      }
      space.revoke(r);
    } finally {
      lock.unlock();
    }
  }

  private void checkAlive() {
    if (destroyed) {
      throw new VmFailure(Errno.ENOENT, "vmspace is being destroyed");
    }
  }

  /** Checks the map's invariants (tests). */
  public void verify() {
    lock.lock();
    try {
      map.verify();
    } finally {
      lock.unlock();
    }
  }

  private static int faultAroundPages() {
    int n = Integer.getInteger("vmspace.faultAround", 16);
    if (n < 1 || n > 512 || Integer.bitCount(n) != 1) {
      throw new IllegalArgumentException("vmspace.faultAround must be a power of two in 1..512: " + n);
    }
    return n;
  }

  private static long roundPage(long v) {
    return (v + PAGE_MASK) & ~PAGE_MASK;
  }

  @Override
  public String toString() {
    return "vmspace 0x" + Long.toHexString(id);
  }
}
