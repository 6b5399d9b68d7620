package org.vmspace.vkernel.mem;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.vmspace.api.Backing;
import org.vmspace.api.Errno;
import org.vmspace.api.Madvise;
import org.vmspace.api.MapFlags;
import org.vmspace.api.Prot;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceService;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * A guest process's address space: one vmspace, and the kernel's own record of what is mapped
 * where (for {@code /proc/PID/maps}, and because Linux's munmap, mprotect and mremap take ranges
 * the vmspace calls would refuse). Shared by processes created with {@code CLONE_VM} (vfork);
 * the vmspace is destroyed when the last of them releases it.
 *
 * <p>Linux semantics and errnos at this level: flags are Linux's ({@code MAP_ANONYMOUS} 0x20 and
 * so on) and are translated to the vmspace's DragonFly values here. Thread-safe: every operation
 * holds the object's monitor.
 *
 * <p>Limits: mmap, mremap, mprotect and brk refuse with ENOMEM (brk by returning the old break) a
 * change that would take the mapped total past RLIMIT_AS, the private writable non-stack total
 * past RLIMIT_DATA (Linux 4.7 and later), or the kernel's committed private writable memory past
 * its {@link MemoryBudget}. The rlimits are read through {@link #limits} from the process using
 * the space (the last one set for a space shared with CLONE_VM).
 */
public final class AddressSpace {
  /** Where mappings without an address hint go (bottom-up from here, below the stack). */
  public static final long MMAP_BASE = 0x7F00_0000_0000L;
  /** The highest address a mapping may end at. */
  public static final long USER_END = VmspaceService.VM_MAX_USER_ADDRESS;

  // Linux mmap flags.
  public static final int MAP_SHARED = 0x01;
  public static final int MAP_PRIVATE = 0x02;
  public static final int MAP_SHARED_VALIDATE = 0x03;
  public static final int MAP_TYPE = 0x0f;
  public static final int MAP_FIXED = 0x10;
  public static final int MAP_ANONYMOUS = 0x20;
  public static final int MAP_32BIT = 0x40;
  public static final int MAP_GROWSDOWN = 0x100;
  public static final int MAP_DENYWRITE = 0x800;
  public static final int MAP_EXECUTABLE = 0x1000;
  public static final int MAP_LOCKED = 0x2000;
  public static final int MAP_NORESERVE = 0x4000;
  public static final int MAP_POPULATE = 0x8000;
  public static final int MAP_NONBLOCK = 0x10000;
  public static final int MAP_STACK = 0x20000;
  public static final int MAP_HUGETLB = 0x40000;
  public static final int MAP_SYNC = 0x80000;
  public static final int MAP_FIXED_NOREPLACE = 0x100000;
  private static final int MAP_KNOWN = MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_32BIT | MAP_GROWSDOWN
      | MAP_DENYWRITE | MAP_EXECUTABLE | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK
      | MAP_STACK | MAP_HUGETLB | MAP_FIXED_NOREPLACE;

  public static final int MREMAP_MAYMOVE = 1;
  public static final int MREMAP_FIXED = 2;

  private static final long PAGE = VmspaceService.PAGE_SIZE;
  private static final int PROT_MASK = Prot.PROT_READ | Prot.PROT_WRITE | Prot.PROT_EXEC;
  private static final long COPY_CHUNK = 1 << 20;

  /**
   * One mapping as /proc/PID/maps shows it.
   *
   * @param shared MAP_SHARED (else private)
   * @param backing the file or memory object, or null for anonymous memory
   * @param offset the backing's offset at {@code start}
   * @param name the path, {@code [heap]}, {@code [stack]} or empty
   * @param sharedAnonymous for shared anonymous memory, what it is (made by its mmap, kept by
   *     fork, its slices and merges), and {@code offset} is the offset in it; null otherwise
   * @param file the mapped file's device and inode as {@code /proc/PID/maps} prints them, or
   *     {@link FileId#NONE}
   */
  public record Region(long start, long end, int prot, boolean shared, Backing backing, long offset, String name,
      Object sharedAnonymous, FileId file) {
    /** Where the memory at {@code start} lies in what it is (a backing or shared anonymous memory). */
    private boolean hasOffset() {
      return backing != null || sharedAnonymous != null;
    }

    Region slice(long from, long to) {
      return new Region(from, to, prot, shared, backing, hasOffset() ? offset + (from - start) : 0, name, sharedAnonymous, file);
    }

    Region withProt(int p) {
      return new Region(start, end, p, shared, backing, offset, name, sharedAnonymous, file);
    }
  }

  private final VmspaceService vms;
  private final VmspaceId id;
  private final UserMemory memory;
  private final TreeMap<Long, Region> regions = new TreeMap<>();
  private final AtomicInteger users = new AtomicInteger(1);
  private final MemoryBudget budget;
  private long brkStart;
  private long brkEnd;
  /** Bytes mapped (RLIMIT_AS), private writable outside the stack (RLIMIT_DATA), committed. */
  private long totalVm;
  private long dataVm;
  private long committedVm;
  private volatile Rlimits limits = NO_LIMITS;

  /**
   * The soft RLIMIT_AS and RLIMIT_DATA an address space's operations are held to (unsigned, -1
   * for none); read at each operation, so a setrlimit takes effect at the next.
   */
  public interface Rlimits {
    /** RLIMIT_AS: the most bytes mapped. */
    long addressSpace();

    /** RLIMIT_DATA: the most private writable bytes outside the stack. */
    long data();
  }

  private static final Rlimits NO_LIMITS = new Rlimits() {
    @Override
    public long addressSpace() {
      return -1;
    }

    @Override
    public long data() {
      return -1;
    }
  };

  private AddressSpace(VmspaceService vms, VmspaceId id, MemoryBudget budget) {
    this.vms = vms;
    this.id = id;
    this.memory = new UserMemory(vms, id);
    this.budget = budget;
  }

  /**
   * Creates an empty address space in a new vmspace {@code id}, committing nothing against an
   * unlimited budget of its own.
   *
   * @throws SyscallError ENOMEM if the vmspace cannot be created
   */
  public static AddressSpace create(VmspaceService vms, VmspaceId id) {
    return create(vms, id, MemoryBudget.unlimited());
  }

  /**
   * Creates an empty address space in a new vmspace {@code id} whose private writable memory is
   * committed against {@code budget}.
   *
   * @throws SyscallError ENOMEM if the vmspace cannot be created
   */
  public static AddressSpace create(VmspaceService vms, VmspaceId id, MemoryBudget budget) {
    try {
      vms.create(id);
    } catch (VmspaceException e) {
      throw new SyscallError(LinuxErrno.ENOMEM, e.getMessage());
    }
    return new AddressSpace(vms, id, budget);
  }

  /** Holds later operations to these rlimits (those of the process using the space). */
  public void limits(Rlimits l) {
    this.limits = l == null ? NO_LIMITS : l;
  }

  /** Bytes mapped: what RLIMIT_AS limits (/proc/PID/status VmSize). */
  public synchronized long totalBytes() {
    return totalVm;
  }

  /** Private writable bytes outside the stack: what RLIMIT_DATA limits (VmData). */
  public synchronized long dataBytes() {
    return dataVm;
  }

  /** Private writable bytes, committed against the kernel's budget. */
  public synchronized long committedBytes() {
    return committedVm;
  }

  public VmspaceId id() {
    return id;
  }

  /** Copies to and from this address space's memory. */
  public UserMemory memory() {
    return memory;
  }

  /** Another process shares this address space (CLONE_VM). */
  public AddressSpace retain() {
    users.incrementAndGet();
    return this;
  }

  /** A process no longer uses it; the last one destroys the vmspace. */
  public void release() {
    if (users.decrementAndGet() == 0) {
      synchronized (this) {
        regions.clear();
        budget.adjust(-committedVm);
        totalVm = 0;
        dataVm = 0;
        committedVm = 0;
      }
      try {
        vms.destroy(id);
      } catch (VmspaceException e) {
        // EBUSY cannot happen (no thread runs it any more); ENOENT means it is already gone.
      }
    }
  }

  /**
   * fork(2): a copy-on-write copy in the new vmspace {@code childId}.
   *
   * @throws SyscallError ENOMEM
   */
  public synchronized AddressSpace fork(VmspaceId childId) {
    // The child's private writable memory is its own to write: Linux commits it again at fork.
    budget.reserve(committedVm);
    try {
      vms.fork(id, childId);
    } catch (VmspaceException e) {
      budget.adjust(-committedVm);
      throw new SyscallError(LinuxErrno.ENOMEM, e.getMessage());
    }
    AddressSpace child = new AddressSpace(vms, childId, budget);
    child.regions.putAll(regions);
    child.totalVm = totalVm;
    child.dataVm = dataVm;
    child.committedVm = committedVm;
    child.limits = limits;
    child.brkStart = brkStart;
    child.brkEnd = brkEnd;
    return child;
  }

  // ---------------------------------------------------------------- mmap

  /**
   * Maps at a fixed address with DragonFly flags, replacing what was there; for the ELF loader.
   */
  public synchronized void mapFixed(long start, long len, int prot, int dflyFlags, Backing backing, long offset, String name) {
    mapFixed(start, len, prot, dflyFlags, backing, offset, name, FileId.NONE);
  }

  /** As {@link #mapFixed(long, long, int, int, Backing, long, String)}, of the file {@code file}. */
  public synchronized void mapFixed(long start, long len, int prot, int dflyFlags, Backing backing, long offset, String name,
      FileId file) {
    boolean shared = (dflyFlags & MapFlags.MAP_SHARED) != 0;
    long size = roundUp(len);
    long[] change = change(start, start + size, shared, prot, name);
    checkLimits(change);
    accounted(change[2], () -> {
      long at = call(() -> vms.mmap(id, start, len, prot, dflyFlags | MapFlags.MAP_FIXED, backing, offset));
      record(new Region(at, at + size, prot, shared, backing, offset, name, null, backing == null ? FileId.NONE : file));
      return at;
    });
  }

  /**
   * mmap(2) with Linux flags.
   *
   * @param backing the file's backing (null for MAP_ANONYMOUS)
   * @param name the path shown in /proc/PID/maps
   * @return the address
   * @throws SyscallError EINVAL, ENOMEM, EEXIST, EACCES as Linux
   */
  public synchronized long mmap(long addr, long len, int prot, int flags, Backing backing, long offset, String name) {
    return mmap(addr, len, prot, flags, backing, offset, name, FileId.NONE);
  }

  /** As {@link #mmap(long, long, int, int, Backing, long, String)}, of the file {@code file}. */
  public synchronized long mmap(long addr, long len, int prot, int flags, Backing backing, long offset, String name,
      FileId file) {
    int type = flags & MAP_TYPE;
    if (len == 0 || (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE)) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (type == MAP_SHARED_VALIDATE && (flags & ~MAP_KNOWN) != 0) {
      throw new SyscallError(LinuxErrno.EOPNOTSUPP);
    }
    if ((flags & MAP_HUGETLB) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL, "MAP_HUGETLB");
    }
    if ((prot & ~PROT_MASK) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL, "prot");
    }
    if ((offset & (PAGE - 1)) != 0 || len < 0 || len > USER_END) {
      throw new SyscallError(len > USER_END ? LinuxErrno.ENOMEM : LinuxErrno.EINVAL);
    }
    boolean fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) != 0;
    if (fixed && (addr & (PAGE - 1)) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    long size = roundUp(len);
    if (fixed && (addr + size > USER_END || addr + size < addr)) {
      throw new SyscallError(LinuxErrno.ENOMEM);
    }
    boolean shared = type != MAP_PRIVATE;
    int d = shared ? MapFlags.MAP_SHARED : MapFlags.MAP_PRIVATE;
    if ((flags & MAP_ANONYMOUS) != 0) {
      d |= MapFlags.MAP_ANON;
      backing = null;
      offset = 0;
    }
    if ((flags & MAP_STACK) != 0) {
      d |= MapFlags.MAP_STACK;
    }
    if ((flags & MAP_NORESERVE) != 0) {
      d |= MapFlags.MAP_NORESERVE;
    }
    if ((flags & MAP_FIXED_NOREPLACE) != 0) {
      d |= MapFlags.MAP_TRYFIXED;
    } else if ((flags & MAP_FIXED) != 0) {
      d |= MapFlags.MAP_FIXED;
    }
    long hint = fixed ? addr : addr != 0 ? roundDown(addr) : (flags & MAP_32BIT) != 0 ? 0x4000_0000L : MMAP_BASE;
    if (!fixed && (hint < 0x10000 || hint + size > USER_END || hint + size < hint)) {
      hint = MMAP_BASE;
    }
    if ((flags & MAP_FIXED_NOREPLACE) != 0 && overlaps(addr, addr + size)) {
      throw new SyscallError(LinuxErrno.EEXIST);
    }
    // A fixed mapping replaces what it covers: only the difference counts (Linux's
    // count_vma_pages_range in mmap_region).
    long[] change = (flags & MAP_FIXED) != 0 ? change(addr, addr + size, shared, prot, "") : change(shared, prot, size);
    checkLimits(change);
    final int dfly = d;
    final long h = hint;
    final Backing b = backing;
    final long off = offset;
    final String shown = backing == null ? "" : name;
    final FileId fid = backing == null ? FileId.NONE : file;
    long at = accounted(change[2], () -> {
      long a = call(() -> vms.mmap(id, h, size, prot, dfly, b, off));
      if ((flags & MAP_32BIT) != 0 && !fixed && a + size > 0x8000_0000L) {
        call(() -> {
          vms.munmap(id, a, size);
          return 0L;
        });
        throw new SyscallError(LinuxErrno.ENOMEM);
      }
      Object sharedAnonymous = shared && b == null ? new Object() : null;
      record(new Region(a, a + size, prot, shared, b, off, shown, sharedAnonymous, fid));
      return a;
    });
    if ((flags & MAP_POPULATE) != 0) {
      call(() -> {
        vms.mcontrol(id, at, size, Madvise.MADV_WILLNEED, 0);
        return 0L;
      });
    }
    return at;
  }

  /** munmap(2): holes in the range are fine. */
  public synchronized void munmap(long addr, long len) {
    if ((addr & (PAGE - 1)) != 0 || len == 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    long end = addr + roundUp(len);
    if (end > USER_END || end < addr) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    accounted(0, () -> {
      unmapRange(addr, end);
      return 0L;
    });
  }

  private void unmapRange(long addr, long end) {
    for (Region r : overlapping(addr, end)) {
      long from = Math.max(r.start(), addr);
      long to = Math.min(r.end(), end);
      call(() -> {
        vms.munmap(id, from, to - from);
        return 0L;
      });
    }
    cut(addr, end);
  }

  /** mprotect(2): ENOMEM if part of the range is not mapped. */
  public synchronized void mprotect(long addr, long len, int prot) {
    prot &= ~0x0300_0000; // PROT_GROWSDOWN, PROT_GROWSUP
    if ((addr & (PAGE - 1)) != 0 || (prot & ~PROT_MASK) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    long end = addr + roundUp(len);
    if (end < addr) {
      throw new SyscallError(LinuxErrno.ENOMEM);
    }
    if (end == addr) {
      return;
    }
    if (!covered(addr, end)) {
      throw new SyscallError(LinuxErrno.ENOMEM);
    }
    final int p = prot;
    // Making private memory writable commits it, and counts towards RLIMIT_DATA (Linux's
    // mprotect_fixup charges VM_ACCOUNT and checks may_expand_vm's data limit).
    long[] change = new long[3];
    for (Region r : overlapping(addr, end)) {
      long n = Math.min(r.end(), end) - Math.max(r.start(), addr);
      Region after = r.withProt(p);
      change[1] += n * (isData(after) - isData(r));
      change[2] += n * (isCommitted(after) - isCommitted(r));
    }
    if (change[1] > 0 && exceeds(dataVm + change[1], limits.data())) {
      throw new SyscallError(LinuxErrno.ENOMEM, "RLIMIT_DATA");
    }
    accounted(change[2], () -> {
      call(() -> {
        vms.mprotect(id, addr, end - addr, p);
        return 0L;
      });
      List<Region> changed = new ArrayList<>();
      for (Region r : overlapping(addr, end)) {
        changed.add(r.slice(Math.max(r.start(), addr), Math.min(r.end(), end)).withProt(p));
      }
      cut(addr, end);
      changed.forEach(this::put);
      return 0L;
    });
  }

  /** Linux's {@code MADV_HUGEPAGE} and {@code MADV_NOHUGEPAGE}. */
  static final int LINUX_MADV_HUGEPAGE = 14;
  static final int LINUX_MADV_NOHUGEPAGE = 15;

  /**
   * madvise(2): the advice the vmspace understands is passed on (DONTNEED and FREE drop pages,
   * WILLNEED populates, HUGEPAGE and NOHUGEPAGE size the service's fault-around blocks), the
   * rest is accepted. As on Linux, advice over a range with unmapped holes applies to the
   * mapped parts and then fails with ENOMEM.
   */
  public synchronized void madvise(long addr, long len, int advice) {
    if ((addr & (PAGE - 1)) != 0 || advice < 0 || advice > 200) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    long rounded = roundUp(len);
    long end = addr + rounded;
    if (Long.compareUnsigned(rounded, len) < 0 || Long.compareUnsigned(end, addr) < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (end == addr) {
      return;
    }
    int behav = switch (advice) {
      case 0, 1, 2, 3 -> advice; // NORMAL RANDOM SEQUENTIAL WILLNEED are the same numbers
      case 4 -> Madvise.MADV_DONTNEED;
      case 8 -> Madvise.MADV_FREE;
      case LINUX_MADV_HUGEPAGE -> Madvise.MADV_HUGEPAGE;
      case LINUX_MADV_NOHUGEPAGE -> Madvise.MADV_NOHUGEPAGE;
      default -> -1;
    };
    if (behav >= 0) {
      for (Region r : overlapping(addr, end)) {
        long from = Math.max(r.start(), addr);
        long to = Math.min(r.end(), end);
        call(() -> {
          vms.mcontrol(id, from, to - from, behav, 0);
          return 0L;
        });
      }
    }
    if (!covered(addr, end)) {
      throw new SyscallError(LinuxErrno.ENOMEM);
    }
  }

  /**
   * mremap(2) for anonymous private memory: shrinking unmaps the tail; growing extends in place
   * when the pages after are free, otherwise (with MREMAP_MAYMOVE) maps a new range, copies the
   * contents and unmaps the old one. Other mappings get ENOMEM (callers fall back to
   * mmap-copy-munmap themselves, as glibc and musl do).
   */
  public synchronized long mremap(long old, long oldLen, long newLen, int flags, long newAddr) {
    if ((old & (PAGE - 1)) != 0 || (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | 4)) != 0 || newLen == 0
        || ((flags & MREMAP_FIXED) != 0 && (flags & MREMAP_MAYMOVE) == 0)) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if ((flags & (MREMAP_FIXED | 4)) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL, "MREMAP_FIXED and MREMAP_DONTUNMAP are not supported");
    }
    oldLen = roundUp(oldLen);
    newLen = roundUp(newLen);
    Map.Entry<Long, Region> e = regions.floorEntry(old);
    if (e == null || e.getValue().end() <= old || oldLen == 0 || old + oldLen > e.getValue().end()) {
      throw new SyscallError(LinuxErrno.EFAULT);
    }
    Region r = e.getValue();
    if (newLen <= oldLen) {
      if (newLen < oldLen) {
        munmap(old + newLen, oldLen - newLen);
      }
      return old;
    }
    if (r.backing() != null || r.shared()) {
      throw new SyscallError(LinuxErrno.ENOMEM, "mremap of a file or shared mapping");
    }
    long growStart = old + oldLen;
    long growLen = newLen - oldLen;
    long[] change = change(false, r.prot(), growLen);
    checkLimits(change);
    if (growStart + growLen <= USER_END && !overlaps(growStart, growStart + growLen)) {
      return accounted(change[2], () -> {
        long at = call(() -> vms.mmap(id, growStart, growLen, r.prot(),
            MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON | MapFlags.MAP_TRYFIXED, null, 0));
        record(new Region(at, at + growLen, r.prot(), false, null, 0, r.name(), null, FileId.NONE));
        return old;
      });
    }
    if ((flags & MREMAP_MAYMOVE) == 0) {
      throw new SyscallError(LinuxErrno.ENOMEM);
    }
    if ((r.prot() & Prot.PROT_READ) == 0) {
      throw new SyscallError(LinuxErrno.ENOMEM, "mremap of unreadable memory");
    }
    final long size = newLen;
    // The new range exists beside the old one while the bytes are copied: commit all of it.
    long to = accounted(size, () -> {
      long a = call(() -> vms.mmap(id, MMAP_BASE, size, Prot.PROT_READ | Prot.PROT_WRITE,
          MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON, null, 0));
      record(new Region(a, a + size, Prot.PROT_READ | Prot.PROT_WRITE, false, null, 0, r.name(), null, FileId.NONE));
      return a;
    });
    try (Arena a = Arena.ofConfined()) {
      MemorySegment buf = a.allocate(COPY_CHUNK, 64);
      for (long done = 0; done < oldLen; done += COPY_CHUNK) {
        long n = Math.min(COPY_CHUNK, oldLen - done);
        memory.read(old + done, buf, 0, n);
        memory.write(to + done, buf, 0, n);
      }
    }
    if (r.prot() != (Prot.PROT_READ | Prot.PROT_WRITE)) {
      mprotect(to, newLen, r.prot());
    }
    munmap(old, oldLen);
    return to;
  }

  // ---------------------------------------------------------------- brk

  /**
   * How much of a fresh heap growth, or of an image's bss at exec, is mapped at once: one
   * fault-around block (64 KiB), what the first touch would have mapped anyway.
   */
  public static final long PREFAULT_BYTES = 16 * PAGE;

  /**
   * Maps the pages of {@code [addr, addr + len)} now, as the first touch would (MADV_WILLNEED to
   * the vmspace: zero pages for anonymous memory, the file's pages read-only for private file
   * mappings), for memory the program is known to touch at once: every demand fault is an exit.
   * Best effort: without memory the rest is left to demand faults.
   */
  public synchronized void prefault(long addr, long len) {
    if (len <= 0) {
      return;
    }
    try {
      call(() -> {
        vms.mcontrol(id, addr, len, Madvise.MADV_WILLNEED, 0);
        return 0L;
      });
    } catch (SyscallError e) {
      // Only an optimisation: the pages are demand-faulted instead.
    }
  }

  /** Sets the start of the heap (just after the loaded image). */
  public synchronized void initBrk(long start) {
    brkStart = start;
    brkEnd = start;
  }

  /**
   * brk(2): moves the program break; returns the new break, or the old one when it cannot move
   * (as Linux does: the caller compares).
   */
  public synchronized long brk(long requested) {
    if (requested < brkStart || requested > USER_END) {
      return brkEnd;
    }
    long oldTop = roundUp(brkEnd);
    long newTop = roundUp(requested);
    if (newTop > oldTop) {
      long grow = newTop - oldTop;
      long[] change = change(false, Prot.PROT_READ | Prot.PROT_WRITE, grow);
      try {
        checkLimits(change);
        accounted(change[2], () -> {
          long at = call(() -> vms.mmap(id, oldTop, grow, Prot.PROT_READ | Prot.PROT_WRITE,
              MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON | MapFlags.MAP_TRYFIXED, null, 0));
          record(new Region(at, newTop, Prot.PROT_READ | Prot.PROT_WRITE, false, null, 0, "[heap]", null, FileId.NONE));
          return at;
        });
        // malloc writes the start of what brk gave it at once (its chunk headers; static glibc
        // its TLS block first): mapped now, that takes no demand fault, an exit each.
        prefault(oldTop, Math.min(grow, PREFAULT_BYTES));
      } catch (SyscallError e) {
        // Over a limit, or the pages above the break are taken: brk reports the old break.
        return brkEnd;
      }
    } else if (newTop < oldTop) {
      munmap(newTop, oldTop - newTop);
    }
    brkEnd = requested;
    return brkEnd;
  }

  // ---------------------------------------------------------------- queries

  /** The mappings, in address order. */
  public synchronized List<Region> regions() {
    return List.copyOf(regions.values());
  }

  /** The mapping at {@code addr}, or null. */
  public synchronized Region regionAt(long addr) {
    Map.Entry<Long, Region> e = regions.floorEntry(addr);
    return e != null && e.getValue().end() > addr ? e.getValue() : null;
  }

  /** /proc/PID/maps. */
  public String maps() {
    StringBuilder sb = new StringBuilder();
    for (Region r : regions()) {
      String line = String.format("%08x-%08x %c%c%c%c %08x %02x:%02x %d", r.start(), r.end(),
          (r.prot() & Prot.PROT_READ) != 0 ? 'r' : '-', (r.prot() & Prot.PROT_WRITE) != 0 ? 'w' : '-',
          (r.prot() & Prot.PROT_EXEC) != 0 ? 'x' : '-', r.shared() ? 's' : 'p', r.offset(),
          r.file().major(), r.file().minor(), r.file().ino());
      sb.append(line);
      if (!r.name().isEmpty()) {
        // Linux pads the name to column 74.
        sb.append(" ".repeat(Math.max(1, 73 - line.length()))).append(r.name());
      }
      sb.append('\n');
    }
    return sb.toString();
  }

  // ---------------------------------------------------------------- internals

  private boolean overlaps(long start, long end) {
    return !overlapping(start, end).isEmpty();
  }

  private boolean covered(long start, long end) {
    long at = start;
    for (Region r : overlapping(start, end)) {
      if (r.start() > at) {
        return false;
      }
      at = r.end();
    }
    return at >= end;
  }

  private List<Region> overlapping(long start, long end) {
    List<Region> out = new ArrayList<>();
    Map.Entry<Long, Region> first = regions.floorEntry(start);
    long from = first != null && first.getValue().end() > start ? first.getKey() : start;
    for (Region r : regions.subMap(from, true, end, false).values()) {
      if (r.end() > start) {
        out.add(r);
      }
    }
    return out;
  }

  /** Records a new mapping, replacing what it covers (as the vmspace did). */
  private void record(Region r) {
    cut(r.start(), r.end());
    put(r);
  }

  /** Adds a region, merged with neighbours it continues (as Linux merges VMAs). */
  private void put(Region r) {
    Map.Entry<Long, Region> before = regions.lowerEntry(r.start());
    if (before != null && continues(before.getValue(), r)) {
      drop(before.getValue());
      r = new Region(before.getValue().start(), r.end(), r.prot(), r.shared(), r.backing(),
          before.getValue().offset(), r.name(), r.sharedAnonymous(), r.file());
    }
    Region after = regions.get(r.end());
    if (after != null && continues(r, after)) {
      drop(after);
      r = new Region(r.start(), after.end(), r.prot(), r.shared(), r.backing(), r.offset(), r.name(), r.sharedAnonymous(),
          r.file());
    }
    add(r);
  }

  /** Whether {@code b} starts where {@code a} ends and is the same kind of memory. */
  private static boolean continues(Region a, Region b) {
    return a.end() == b.start() && a.prot() == b.prot() && a.shared() == b.shared() && a.backing() == b.backing()
        && a.sharedAnonymous() == b.sharedAnonymous() && a.name().equals(b.name())
        && (!a.hasOffset() || a.offset() + (a.end() - a.start()) == b.offset());
  }

  /** Removes [start, end) from the record, splitting regions at its edges. */
  private void cut(long start, long end) {
    for (Region r : overlapping(start, end)) {
      drop(r);
      if (r.start() < start) {
        put(r.slice(r.start(), start));
      }
      if (r.end() > end) {
        put(r.slice(end, r.end()));
      }
    }
  }

  private void add(Region r) {
    regions.put(r.start(), r);
    long n = r.end() - r.start();
    totalVm += n;
    dataVm += n * isData(r);
    committedVm += n * isCommitted(r);
  }

  private void drop(Region r) {
    regions.remove(r.start());
    long n = r.end() - r.start();
    totalVm -= n;
    dataVm -= n * isData(r);
    committedVm -= n * isCommitted(r);
  }

  /** 1 if {@code r} counts towards RLIMIT_DATA: private, writable, not the stack (Linux's is_data_mapping). */
  private static int isData(Region r) {
    return isCommitted(r);
  }

  /**
   * 1 if {@code r} is committed memory: private and writable (Linux's VM_ACCOUNT), except the
   * main stack. Linux charges a stack as it grows, a page at a time; here it is mapped whole at
   * exec (RLIMIT_STACK's size), so charging it whole would make every process, and every fork,
   * cost 8 MiB of a budget Linux would hardly touch. What a stack really uses is bounded by the
   * service's memory limit instead.
   */
  private static int isCommitted(Region r) {
    return !r.shared() && (r.prot() & Prot.PROT_WRITE) != 0 && !r.name().equals("[stack]") ? 1 : 0;
  }

  /** What a new mapping of {@code size} bytes adds: mapped, data, committed bytes. */
  private static long[] change(boolean shared, int prot, long size) {
    Region r = new Region(0, size, prot, shared, null, 0, "", null, FileId.NONE);
    return new long[] {size, size * isData(r), size * isCommitted(r)};
  }

  /** What a mapping of [start, end) adds over what it replaces there. */
  private long[] change(long start, long end, boolean shared, int prot, String name) {
    Region fresh = new Region(start, end, prot, shared, null, 0, name, null, FileId.NONE);
    long n = end - start;
    long[] c = {n, n * isData(fresh), n * isCommitted(fresh)};
    for (Region r : overlapping(start, end)) {
      long m = Math.min(r.end(), end) - Math.max(r.start(), start);
      c[0] -= m;
      c[1] -= m * isData(r);
      c[2] -= m * isCommitted(r);
    }
    return c;
  }

  /** ENOMEM if {@code change} (from {@link #change}) takes the space past RLIMIT_AS or RLIMIT_DATA. */
  private void checkLimits(long[] change) {
    Rlimits l = limits;
    if (change[0] > 0 && exceeds(totalVm + change[0], l.addressSpace())) {
      throw new SyscallError(LinuxErrno.ENOMEM, "RLIMIT_AS");
    }
    if (change[1] > 0 && exceeds(dataVm + change[1], l.data())) {
      throw new SyscallError(LinuxErrno.ENOMEM, "RLIMIT_DATA");
    }
  }

  /**
   * Runs {@code op} with {@code expected} bytes committed first (ENOMEM if the budget has no room
   * for them), then settles the budget on what the record really gained or lost, also when
   * {@code op} fails.
   */
  private long accounted(long expected, VmCall op) {
    long before = committedVm;
    budget.reserve(Math.max(0, expected));
    try {
      return op.call();
    } finally {
      budget.adjust((committedVm - before) - Math.max(0, expected));
    }
  }

  private interface VmCall {
    long call();
  }

  /** Runs a vmspace call, turning its errno into the Linux one. */
  private static long call(VmCall c) {
    try {
      return c.call();
    } catch (VmspaceException e) {
      Errno errno = e.errno();
      throw new SyscallError(errno.code(), e.getMessage());
    }
  }

  /** Whether {@code value} is over {@code limit} (unsigned; -1, RLIM_INFINITY, is no limit). */
  private static boolean exceeds(long value, long limit) {
    return limit != -1 && Long.compareUnsigned(value, limit) > 0;
  }

  private static long roundUp(long v) {
    return (v + PAGE - 1) & -PAGE;
  }

  private static long roundDown(long v) {
    return v & -PAGE;
  }
}
