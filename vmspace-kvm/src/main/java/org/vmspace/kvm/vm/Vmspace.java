package org.vmspace.kvm.vm;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import org.vmspace.api.Backing;
import org.vmspace.api.Errno;
import org.vmspace.api.MapFlags;
import org.vmspace.api.VmspaceService;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.paging.PageTables;
import org.vmspace.kvm.paging.Access;
import org.vmspace.kvm.paging.Pte;
import org.vmspace.kvm.paging.Revocation;

/**
 * One address space: its map of entries, its page tables, and the memory calls of the contract
 * with their checks in the contract's order. Page-table changes follow one rule: host-side
 * stores only make non-present entries present; everything else is a {@link Revocation} applied
 * by the context before the call returns, so no vCPU can use a translation after the call that
 * removed it.
 *
 * <p>This class holds the state and the public calls; the work is split by responsibility as
 * DragonFly's {@code vm_vmspace.c}, {@code vm_map.c} and {@code vm_fault.c} are: {@link
 * MapCalls} (each map call's check ladder, then the work), {@link Faults}, {@link ForkCopy},
 * {@link MemoryCopy} (pread/pwrite) and {@link VirtualPageTables} (MAP_VPAGETABLE).
 *
 * <p>Thread-safe: one lock per address space serialises the calls and the fault handler.
 */
public final class Vmspace {
  /** The end of the user range. */
  public static final long VM_MAX = VmspaceService.VM_MAX_USER_ADDRESS;
  static final long PAGE = GuestMemory.PAGE;
  static final long PAGE_MASK = PAGE - 1;
  /** log2 of {@link #PAGE}: {@code x >>> PAGE_SHIFT} is the unsigned page count of a size. */
  static final int PAGE_SHIFT = 12;
  /** Non-fixed mappings are placed at or above this address, never on page 0. */
  public static final long NON_FIXED_FLOOR = 0x10000;
  static final int KNOWN_FLAGS = MapFlags.KNOWN;
  /**
   * Fault-around: a demand fault also maps the other not-present pages of its naturally
   * aligned block of this many pages (within the same mapping), so a scattered first touch
   * costs one exit per block instead of one per page. Anonymous pages are allocated for it (as
   * Linux does with transparent huge pages); object pages are mapped only if they exist. A
   * power of two; 1 turns fault-around off (and its growth, see {@link
   * #FAULT_AROUND_MAX_PAGES}). System property {@code vmspace.faultAround}.
   */
  public static final int FAULT_AROUND_PAGES = faultAroundPages();
  /**
   * The largest fault-around block: a demand fault on the page just past a mapping's last
   * fault-around block, or just before it, doubles the block (an aligned block twice as large
   * around the fault), up to this many pages (8 MiB by default, four page tables' worth), so a
   * sequential first touch, upwards or downwards, costs one exit per 8 MiB instead of one per
   * 64 KiB; any other fault starts again from {@link #FAULT_AROUND_PAGES}. Anonymous pages
   * beyond the base block are allocated only while they would use at most an eighth of the
   * frames still free; the host backs them only when the guest touches them. A power of two
   * from {@link #FAULT_AROUND_PAGES} to {@value #FAULT_AROUND_LIMIT}; equal to it turns the
   * growth off. System property {@code vmspace.faultAroundMax}.
   */
  public static final int FAULT_AROUND_MAX_PAGES = faultAroundMaxPages();
  /** The most {@code vmspace.faultAroundMax} may be: 32 MiB of pages. */
  static final int FAULT_AROUND_LIMIT = 8192;
  /** What one leaf table maps: 2 MiB. */
  static final long LEAF_TABLE_SPAN = 2L << 20;

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
  final PhysicalSpace space;
  final PageTables tables;
  final AddressMap map = new AddressMap(VM_MAX);
  final ReentrantLock lock = new ReentrantLock();
  boolean destroyed;
  /** Set by MADV_SETMAP: the address space then runs on the caller's tables in that domain. */
  volatile Vpage vpage;
  /** Threads inside {@code ctl(RUN)} on this address space now (see {@link #enterRun()}). */
  private final AtomicInteger runners = new AtomicInteger();
  /** Set while a fork copies pages from under the lock (see {@link #enterRun()}). */
  private volatile boolean forking;
  /** Threads running this address space on the caller's tables now (to stop on revocation). */
  final java.util.Set<Thread> vpageRunners = java.util.concurrent.ConcurrentHashMap.newKeySet();
  // The calls, by responsibility; each takes the lock above.
  final MapCalls mapCalls = new MapCalls(this);
  final Faults faults = new Faults(this);
  final ForkCopy forkCopy = new ForkCopy(this);
  final MemoryCopy memoryCopy = new MemoryCopy(this);
  final VirtualPageTables virtualTables = new VirtualPageTables(this);
  /** What {@code exitStatistics(id)} reports: the run loop's exits and this space's revocations. */
  final ExitCounters counters = new ExitCounters();

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

  /**
   * The pages a fork copies at most ({@code -Dvmspace.forkCopyPages}, default 512; 0 is
   * copy-on-write only), read at each fork.
   *
   * @throws IllegalArgumentException if the property is not a number of pages, 0 or more
   */
  public static int forkCopyPages() {
    return ForkCopy.budgetPages();
  }

  /**
   * A thread starts a {@code ctl(RUN)} on this address space: from here to {@link #exitRun()}
   * it may write the guest's pages. A fork copies a page only while no thread can write it (the
   * copy is a memcpy, and a child must see the parent's memory as of one moment, as Linux's
   * shared pages give it), so a thread that arrives while a fork copies waits for the fork's
   * end. With {@link #copyWindow()} this is Dekker's handshake: one of the two sees the other.
   */
  public void enterRun() {
    runners.incrementAndGet();
    if (forking) {
      lock.lock(); // the fork holds it until its copies are done
      lock.unlock();
    }
  }

  /** The thread's {@code ctl(RUN)} that {@link #enterRun()} began has ended. */
  public void exitRun() {
    runners.decrementAndGet();
  }

  /**
   * Opens a fork's copy window (under the lock): true if no thread runs this address space, so
   * that none can write a page until {@link #closeCopyWindow()}; false if one does (the fork
   * then shares every private page copy-on-write).
   */
  boolean copyWindow() {
    forking = true;
    if (runners.get() == 0) {
      return true;
    }
    forking = false;
    return false;
  }

  /** Closes the window {@link #copyWindow()} opened. */
  void closeCopyWindow() {
    forking = false;
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

  // ---------------------------------------------------------------- the calls

  /**
   * {@code vmspace_mmap} after the id lookup: checks in the contract's order, then maps.
   *
   * @return the address of the mapping
   * @throws VmFailure with the first errno that applies
   */
  public long mmap(
      long addr, long len, int protBits, int flags, Backing backing, long offset, BackingResolver resolver) {
    return mapCalls.mmap(addr, len, protBits, flags, backing, offset, resolver);
  }

  /**
   * {@code vmspace_munmap} after the id lookup.
   *
   * @throws VmFailure EINVAL on a wrap, an end past VM_MAX_USER_ADDRESS, or a range not
   *     entirely mapped
   */
  public void munmap(long addr, long len) {
    mapCalls.munmap(addr, len);
  }

  /**
   * The {@code mprotect} extension after the id lookup.
   *
   * @throws VmFailure EINVAL for a misaligned address, a wrap or bad prot bits; ENOMEM for an
   *     end past VM_MAX_USER_ADDRESS or a range not entirely mapped; EINVAL for a
   *     MAP_VPAGETABLE range; EACCES for write access to a shared mapping of a read-only backing
   */
  public void mprotect(long addr, long len, int protBits) {
    mapCalls.mprotect(addr, len, protBits);
  }

  /**
   * {@code vmspace_mcontrol} after the id lookup.
   *
   * @throws VmFailure EINVAL for a bad behaviour, a wrap, an end past VM_MAX_USER_ADDRESS, or
   *     MADV_SETMAP on a range that is not MAP_VPAGETABLE
   */
  public void mcontrol(long addr, long len, int behav, long value) {
    mapCalls.mcontrol(addr, len, behav, value);
  }

  /**
   * A copy of this address space under {@code childId}: private pages copied at once up to a
   * budget ({@code -Dvmspace.forkCopyPages}), the rest copy-on-write; see {@link ForkCopy}.
   *
   * @throws VmFailure EINVAL while on MAP_VPAGETABLE tables; ENOMEM without memory for the
   *     child's tables
   */
  public Vmspace fork(long childId) {
    return forkCopy.fork(childId);
  }

  /** Resolves a user-mode fault on {@code va} as the host kernel would; see {@link Faults}. */
  public Fault resolve(long va, Access access) {
    return faults.resolve(va, access);
  }

  /**
   * After KVM_RUN failed with EFAULT: drops translations into truncated shared file pages.
   *
   * @return whether any was dropped (false: the EFAULT had another cause)
   */
  public boolean revokeTruncatedFilePages() {
    return faults.revokeTruncatedFilePages();
  }

  /** Copies guest memory at {@code addr} into {@code dst}; returns the bytes copied. */
  public long pread(MemorySegment dst, long len, long addr) {
    return memoryCopy.pread(dst, len, addr);
  }

  /** Copies {@code src} into guest memory at {@code addr}; returns the bytes copied. */
  public long pwrite(MemorySegment src, long len, long addr) {
    return memoryCopy.pwrite(src, len, addr);
  }

  /** A byte of user memory as the guest would fetch it, or -1 if not mapped. */
  public int readUserByte(long va) {
    return memoryCopy.readUserByte(va);
  }

  /** The exit counters of this address space. */
  public ExitCounters counters() {
    return counters;
  }

  /**
   * Applies a revocation made for this address space, counting it as a revocation batch when it
   * has stores (one that only frees frames or drops references costs no maintenance run).
   */
  void revoke(Revocation r) {
    if (r.storeCount() == 0) {
      space.revoke(r);
      return;
    }
    counters.revocation();
    RevocationEvent event = RevocationEvent.TYPE.isEnabled() ? new RevocationEvent() : null;
    if (event == null) {
      space.revoke(r);
      return;
    }
    event.begin();
    space.revoke(r);
    event.vmspace = id;
    event.stores = r.storeCount();
    event.commit();
  }

  /** A leaf rewriter that unmaps and drops the leaf's frame reference. */
  long dropLeaf(long va, long leaf, Revocation r) {
    space.release(Pte.address(leaf), r);
    return 0;
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
        virtualTables.leaveVpage();
      }
      Revocation r = new Revocation();
      tables.revokeAll(r, this::dropLeaf);
      for (VmEntry e : map.entries()) {
        map.remove(e);
        if (e.object != null) {
          e.object.removeMapping(r);
        }
      }
      revoke(r);
    } finally {
      lock.unlock();
    }
  }

  void checkAlive() {
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

  private static int faultAroundMaxPages() {
    int n = Integer.getInteger("vmspace.faultAroundMax", Math.max(FAULT_AROUND_PAGES, 2048));
    if (FAULT_AROUND_PAGES == 1) {
      return 1;
    }
    if (n < FAULT_AROUND_PAGES || n > FAULT_AROUND_LIMIT || Integer.bitCount(n) != 1) {
      throw new IllegalArgumentException(
          "vmspace.faultAroundMax must be a power of two in " + FAULT_AROUND_PAGES + "..8192: " + n);
    }
    return n;
  }

  static long roundPage(long v) {
    return (v + PAGE_MASK) & ~PAGE_MASK;
  }

  @Override
  public String toString() {
    return "vmspace 0x" + Long.toHexString(id);
  }
}
