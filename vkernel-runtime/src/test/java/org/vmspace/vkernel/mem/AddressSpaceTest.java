package org.vmspace.vkernel.mem;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.vmspace.api.Prot;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceService;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;
import org.vmspace.vkernel.testing.Kvm;

/**
 * Linux's mmap, munmap, mprotect, brk and mremap on a real vmspace, against a page-by-page
 * model: the kernel's record of the mappings, the protections the guest gets and the bytes it
 * sees must all agree with the model after every step.
 */
@Tag("kvm")
@Tag("shadow-paging")
class AddressSpaceTest {
  static final long PAGE = 4096;
  static final long BASE = 0x1000_0000L;
  static final int WINDOW = 256;
  static final int[] PROTS = {Prot.PROT_NONE, Prot.PROT_READ, Prot.PROT_READ | Prot.PROT_WRITE,
      Prot.PROT_READ | Prot.PROT_EXEC, Prot.PROT_READ | Prot.PROT_WRITE | Prot.PROT_EXEC};
  static final int ANON_PRIVATE = AddressSpace.MAP_ANONYMOUS | AddressSpace.MAP_PRIVATE;

  VmspaceService vms;
  AddressSpace as;

  @BeforeEach
  void setUp() {
    vms = Kvm.open();
    as = AddressSpace.create(vms, VmspaceId.of(7));
  }

  @AfterEach
  void tearDown() {
    if (as != null) {
      as.release();
    }
    if (vms != null) {
      vms.close();
    }
  }

  /** The model: page number to protection, and page number to the byte at its start. */
  final TreeMap<Long, Integer> prot = new TreeMap<>();
  final Map<Long, Byte> content = new HashMap<>();

  @Test
  void randomOperationsAgreeWithThePageModel() {
    Random r = new Random(20261123L);
    for (int step = 0; step < 3000; step++) {
      long first = r.nextInt(WINDOW);
      long pages = 1 + r.nextInt(16);
      long addr = BASE + first * PAGE;
      long len = Math.min(pages, WINDOW - first) * PAGE;
      int op = r.nextInt(6);
      switch (op) {
        case 0 -> {
          int p = PROTS[r.nextInt(PROTS.length)];
          long at = as.mmap(addr, len, p, ANON_PRIVATE | AddressSpace.MAP_FIXED, null, 0, "");
          assertThat(at).isEqualTo(addr);
          for (long pg = addr / PAGE; pg < (addr + len) / PAGE; pg++) {
            prot.put(pg, p);
            content.remove(pg);
          }
        }
        case 1 -> {
          as.munmap(addr, len);
          for (long pg = addr / PAGE; pg < (addr + len) / PAGE; pg++) {
            prot.remove(pg);
            content.remove(pg);
          }
        }
        case 2 -> {
          int p = PROTS[r.nextInt(PROTS.length)];
          boolean covered = true;
          for (long pg = addr / PAGE; pg < (addr + len) / PAGE; pg++) {
            covered &= prot.containsKey(pg);
          }
          if (covered) {
            as.mprotect(addr, len, p);
            for (long pg = addr / PAGE; pg < (addr + len) / PAGE; pg++) {
              prot.put(pg, p);
            }
          } else {
            assertThatThrownBy(() -> as.mprotect(addr, len, p)).isInstanceOfSatisfying(SyscallError.class,
                e -> assertThat(e.errno()).isEqualTo(LinuxErrno.ENOMEM));
          }
        }
        case 3 -> {
          long pg = addr / PAGE;
          byte v = (byte) (1 + r.nextInt(250));
          Integer p = prot.get(pg);
          boolean writable = p != null && (p & Prot.PROT_WRITE) != 0;
          long n = vms.pwrite(as.id(), MemorySegment.ofArray(new byte[] {v}), 1, 0, pg * PAGE);
          assertThat(n).as("write to page %x with prot %s", pg, p).isEqualTo(writable ? 1 : 0);
          if (writable) {
            content.put(pg, v);
          }
        }
        default -> checkPage(addr / PAGE);
      }
      if (step % 50 == 0) {
        checkRecord();
      }
    }
    checkRecord();
    for (long pg = BASE / PAGE; pg < BASE / PAGE + WINDOW; pg++) {
      checkPage(pg);
    }
  }

  private void checkPage(long pg) {
    Integer p = prot.get(pg);
    byte[] b = new byte[1];
    long n = vms.pread(as.id(), MemorySegment.ofArray(b), 1, 0, pg * PAGE);
    boolean readable = p != null && (p & Prot.PROT_READ) != 0;
    assertThat(n).as("read of page %x with prot %s", pg, p).isEqualTo(readable ? 1 : 0);
    if (readable) {
      assertThat(b[0]).as("page %x", pg).isEqualTo(content.getOrDefault(pg, (byte) 0));
    }
  }

  /** The kernel's record of the mappings, page by page, is the model's. */
  private void checkRecord() {
    TreeMap<Long, Integer> recorded = new TreeMap<>();
    long lastEnd = 0;
    for (AddressSpace.Region region : as.regions()) {
      assertThat(region.start()).isGreaterThanOrEqualTo(lastEnd);
      assertThat(region.end()).isGreaterThan(region.start());
      lastEnd = region.end();
      for (long a = region.start(); a < region.end(); a += PAGE) {
        recorded.put(a / PAGE, region.prot());
      }
    }
    assertThat(recorded).isEqualTo(prot);
    // The running totals the limits are checked against are the record's.
    long writable = 0;
    for (AddressSpace.Region region : as.regions()) {
      if (!region.shared() && (region.prot() & Prot.PROT_WRITE) != 0) {
        writable += region.end() - region.start();
      }
    }
    assertThat(as.totalBytes()).isEqualTo(recorded.size() * PAGE);
    assertThat(as.dataBytes()).isEqualTo(writable);
    assertThat(as.committedBytes()).isEqualTo(writable);
  }

  @Test
  void munmapTakesHolesAndLinuxErrnosComeBack() {
    as.mmap(BASE, 4 * PAGE, Prot.PROT_READ, ANON_PRIVATE | AddressSpace.MAP_FIXED, null, 0, "");
    as.mmap(BASE + 8 * PAGE, 4 * PAGE, Prot.PROT_READ, ANON_PRIVATE | AddressSpace.MAP_FIXED, null, 0, "");
    as.munmap(BASE, 16 * PAGE);
    assertThat(as.regions()).isEmpty();
    assertThatThrownBy(() -> as.munmap(BASE + 1, PAGE)).isInstanceOfSatisfying(SyscallError.class,
        e -> assertThat(e.errno()).isEqualTo(LinuxErrno.EINVAL));
    assertThatThrownBy(() -> as.mmap(0, 0, Prot.PROT_READ, ANON_PRIVATE, null, 0, ""))
        .isInstanceOfSatisfying(SyscallError.class, e -> assertThat(e.errno()).isEqualTo(LinuxErrno.EINVAL));
    assertThatThrownBy(() -> as.mmap(0, PAGE, Prot.PROT_READ, AddressSpace.MAP_ANONYMOUS, null, 0, ""))
        .isInstanceOfSatisfying(SyscallError.class, e -> assertThat(e.errno()).isEqualTo(LinuxErrno.EINVAL));
    as.mmap(BASE, PAGE, Prot.PROT_READ, ANON_PRIVATE | AddressSpace.MAP_FIXED, null, 0, "");
    assertThatThrownBy(() -> as.mmap(BASE, PAGE, Prot.PROT_READ, ANON_PRIVATE | AddressSpace.MAP_FIXED_NOREPLACE,
        null, 0, "")).isInstanceOfSatisfying(SyscallError.class, e -> assertThat(e.errno()).isEqualTo(LinuxErrno.EEXIST));
    long hinted = as.mmap(0, PAGE, Prot.PROT_READ, ANON_PRIVATE, null, 0, "");
    assertThat(hinted).isGreaterThanOrEqualTo(AddressSpace.MMAP_BASE);
  }

  @Test
  void brkGrowsAndShrinksTheHeapAndRefusesToGoBelowItsStart() {
    long start = 0x60_0000L;
    as.initBrk(start);
    assertThat(as.brk(0)).isEqualTo(start);
    assertThat(as.brk(start + 3 * PAGE + 10)).isEqualTo(start + 3 * PAGE + 10);
    as.memory().writeInt(start + 3 * PAGE, 77);
    assertThat(as.brk(start + PAGE)).isEqualTo(start + PAGE);
    assertThat(vms.pread(as.id(), MemorySegment.ofArray(new byte[1]), 1, 0, start + 3 * PAGE)).isZero();
    assertThat(as.brk(start - PAGE)).isEqualTo(start + PAGE);
    // A mapping in the way stops the heap: brk returns the old break, as Linux does.
    as.mmap(start + 4 * PAGE, PAGE, Prot.PROT_READ, ANON_PRIVATE | AddressSpace.MAP_FIXED, null, 0, "");
    assertThat(as.brk(start + 8 * PAGE)).isEqualTo(start + PAGE);
    assertThat(as.regions()).anyMatch(reg -> reg.name().equals("[heap]"));
  }

  @Test
  void mremapShrinksGrowsInPlaceAndMovesKeepingTheBytes() {
    long a = as.mmap(BASE, 4 * PAGE, Prot.PROT_READ | Prot.PROT_WRITE, ANON_PRIVATE | AddressSpace.MAP_FIXED, null, 0, "");
    for (int i = 0; i < 4; i++) {
      as.memory().writeInt(a + i * PAGE, 100 + i);
    }
    assertThat(as.mremap(a, 4 * PAGE, 2 * PAGE, 0, 0)).isEqualTo(a);
    assertThat(as.regionAt(a + 2 * PAGE)).isNull();
    assertThat(as.mremap(a, 2 * PAGE, 6 * PAGE, 0, 0)).isEqualTo(a);
    assertThat(as.memory().readInt(a + PAGE)).isEqualTo(101);
    assertThat(as.memory().readInt(a + 5 * PAGE)).isZero();
    // Blocked after: without MAYMOVE ENOMEM, with it a move that keeps every byte.
    as.mmap(a + 6 * PAGE, PAGE, Prot.PROT_READ, ANON_PRIVATE | AddressSpace.MAP_FIXED, null, 0, "");
    assertThatThrownBy(() -> as.mremap(a, 6 * PAGE, 8 * PAGE, 0, 0)).isInstanceOfSatisfying(SyscallError.class,
        e -> assertThat(e.errno()).isEqualTo(LinuxErrno.ENOMEM));
    long moved = as.mremap(a, 6 * PAGE, 8 * PAGE, AddressSpace.MREMAP_MAYMOVE, 0);
    assertThat(moved).isNotEqualTo(a);
    assertThat(as.memory().readInt(moved)).isEqualTo(100);
    assertThat(as.memory().readInt(moved + PAGE)).isEqualTo(101);
    assertThat(as.regionAt(a)).isNull();
    assertThat(as.regionAt(moved + 7 * PAGE).prot()).isEqualTo(Prot.PROT_READ | Prot.PROT_WRITE);
    assertThatThrownBy(() -> as.mremap(BASE + 100 * PAGE, PAGE, 2 * PAGE, AddressSpace.MREMAP_MAYMOVE, 0))
        .isInstanceOfSatisfying(SyscallError.class, e -> assertThat(e.errno()).isEqualTo(LinuxErrno.EFAULT));
  }

  @Test
  void forkCopiesTheRecordAndTheMemoryCopyOnWrite() {
    long a = as.mmap(BASE, PAGE, Prot.PROT_READ | Prot.PROT_WRITE, ANON_PRIVATE | AddressSpace.MAP_FIXED, null, 0, "");
    as.memory().writeInt(a, 1);
    AddressSpace child = as.fork(VmspaceId.of(8));
    try {
      child.memory().writeInt(a, 2);
      assertThat(as.memory().readInt(a)).isEqualTo(1);
      assertThat(child.memory().readInt(a)).isEqualTo(2);
      assertThat(child.regions()).isEqualTo(as.regions());
      assertThat(child.maps()).contains("10000000-10001000 rw-p");
    } finally {
      child.release();
    }
  }

  private static final AddressSpace.Rlimits NONE = limits(-1, -1);

  private static AddressSpace.Rlimits limits(long addressSpace, long data) {
    return new AddressSpace.Rlimits() {
      @Override
      public long addressSpace() {
        return addressSpace;
      }

      @Override
      public long data() {
        return data;
      }
    };
  }

  private static int errno(Runnable r) {
    try {
      r.run();
      return 0;
    } catch (SyscallError e) {
      return e.errno();
    }
  }

  @Test
  void rlimitAsAndDataRefuseWithEnomemAndBrkKeepsItsBreak() {
    long rw = Prot.PROT_READ | Prot.PROT_WRITE;
    as.limits(limits(64 * PAGE, 16 * PAGE));
    // Read-only memory counts towards RLIMIT_AS only.
    long ro = as.mmap(0, 40 * PAGE, Prot.PROT_READ, ANON_PRIVATE, null, 0, "");
    assertThat(errno(() -> as.mmap(0, 17 * PAGE, (int) rw, ANON_PRIVATE, null, 0, ""))).isEqualTo(LinuxErrno.ENOMEM);
    long data = as.mmap(0, 16 * PAGE, (int) rw, ANON_PRIVATE, null, 0, "");
    assertThat(as.dataBytes()).isEqualTo(16 * PAGE);
    // Shared writable memory is not data; but the address space is full at 64 pages.
    long shared = as.mmap(0, 8 * PAGE, (int) rw, AddressSpace.MAP_SHARED | AddressSpace.MAP_ANONYMOUS, null, 0, "");
    assertThat(errno(() -> as.mmap(0, PAGE, Prot.PROT_NONE, ANON_PRIVATE, null, 0, ""))).isEqualTo(LinuxErrno.ENOMEM);
    // Making read-only memory writable is new data.
    assertThat(errno(() -> as.mprotect(ro, PAGE, (int) rw))).isEqualTo(LinuxErrno.ENOMEM);
    // A fixed mapping over existing memory only counts the difference.
    as.mmap(data, 16 * PAGE, (int) rw, ANON_PRIVATE | AddressSpace.MAP_FIXED, null, 0, "");
    as.munmap(shared, 8 * PAGE);
    assertThat(as.totalBytes()).isEqualTo(56 * PAGE);
    // The main stack is neither data nor committed.
    long stack = as.mmap(0, 8 * PAGE, Prot.PROT_READ, ANON_PRIVATE, null, 0, "");
    as.mapFixed(stack, 8 * PAGE, (int) rw, org.vmspace.api.MapFlags.MAP_PRIVATE | org.vmspace.api.MapFlags.MAP_ANON, null, 0,
        "[stack]");
    assertThat(as.dataBytes()).isEqualTo(16 * PAGE);
    assertThat(as.committedBytes()).isEqualTo(16 * PAGE);
    as.munmap(stack, 8 * PAGE);
    // The heap: over RLIMIT_DATA brk stays where it was.
    long start = 0x60_0000L;
    as.initBrk(start);
    as.munmap(data, 8 * PAGE);
    assertThat(as.brk(start + 8 * PAGE)).isEqualTo(start + 8 * PAGE);
    assertThat(as.brk(start + 9 * PAGE)).isEqualTo(start + 8 * PAGE);
    as.limits(NONE);
    assertThat(as.brk(start + 9 * PAGE)).isEqualTo(start + 9 * PAGE);
    assertThat(errno(() -> as.mremap(data + 8 * PAGE, 8 * PAGE, 16 * PAGE, AddressSpace.MREMAP_MAYMOVE, 0))).isZero();
  }

  @Test
  void theBudgetIsSharedByForksAndGivenBackAtRelease() {
    MemoryBudget budget = new MemoryBudget(32 * PAGE);
    AddressSpace a = AddressSpace.create(vms, VmspaceId.of(9), budget);
    try {
      long rw = Prot.PROT_READ | Prot.PROT_WRITE;
      long m = a.mmap(0, 12 * PAGE, (int) rw, ANON_PRIVATE, null, 0, "");
      // Not committed: read-only, shared, or MAP_FIXED over what is already committed.
      a.mmap(0, 100 * PAGE, Prot.PROT_READ, ANON_PRIVATE, null, 0, "");
      a.mmap(0, 100 * PAGE, (int) rw, AddressSpace.MAP_SHARED | AddressSpace.MAP_ANONYMOUS, null, 0, "");
      a.mmap(m, 12 * PAGE, (int) rw, ANON_PRIVATE | AddressSpace.MAP_FIXED, null, 0, "");
      assertThat(budget.committed()).isEqualTo(12 * PAGE);
      AddressSpace child = a.fork(VmspaceId.of(10));
      assertThat(budget.committed()).isEqualTo(24 * PAGE);
      // A fork that does not fit is ENOMEM and commits nothing.
      assertThat(errno(() -> child.fork(VmspaceId.of(11)))).isEqualTo(LinuxErrno.ENOMEM);
      assertThat(budget.committed()).isEqualTo(24 * PAGE);
      assertThat(errno(() -> child.mmap(0, 9 * PAGE, (int) rw, ANON_PRIVATE, null, 0, ""))).isEqualTo(LinuxErrno.ENOMEM);
      child.mmap(0, 8 * PAGE, (int) rw, ANON_PRIVATE, null, 0, "");
      assertThat(errno(() -> a.mprotect(m, PAGE, Prot.PROT_READ))).isZero();
      assertThat(budget.committed()).isEqualTo(31 * PAGE);
      child.release();
      assertThat(budget.committed()).isEqualTo(11 * PAGE);
    } finally {
      a.release();
    }
    assertThat(budget.committed()).isZero();
  }
}
