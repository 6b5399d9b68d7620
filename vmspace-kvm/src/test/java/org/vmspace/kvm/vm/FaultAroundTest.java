package org.vmspace.kvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.vmspace.api.MapFlags;
import org.vmspace.api.Madvise;
import org.vmspace.api.Prot;
import org.vmspace.kvm.memory.FrameAllocator;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.paging.Access;
import org.vmspace.kvm.paging.Pte;
import org.vmspace.kvm.vm.Vmspace.Fault;

/**
 * Fault-around on the host, without a guest: the service's fault path writes page tables into a
 * memfd exactly as it does for a running guest, so how many faults a touch pattern takes, and
 * which pages end up present, can be counted here (the guest's side of the same counts is
 * ExitStatisticsKvmTest's). Revocations are applied directly, as no vCPU runs.
 */
class FaultAroundTest {
  private static final long PAGE = 4096;
  private static final long TWO_MIB = 2L << 20;
  private static final long BASE = 0x4000_0000L; // 2 MiB (indeed 1 GiB) aligned

  private HostSpace host;
  private GuestMemory memory;
  private FrameAllocator frames;
  private PhysicalSpace space;
  private Vmspace vm;

  private void context(long memoryBytes, long limitBytes) {
    host = new HostSpace("fault-around-test", memoryBytes, limitBytes);
    memory = host.memory();
    frames = host.frames();
    space = host;
    vm = Vmspace.create(1, space);
  }

  @AfterEach
  void close() {
    if (vm != null) {
      vm.destroy();
    }
    if (host != null) {
      host.close();
    }
  }

  private long anon(long at, long pages) {
    return vm.mmap(at, pages * PAGE, Prot.PROT_READ | Prot.PROT_WRITE,
        MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON | MapFlags.MAP_FIXED, null, 0, null);
  }

  private boolean present(long va) {
    return vm.tables().lookup(va).isPresent();
  }

  /** Touches {@code va} as a guest would: a fault only if it is not present; true if it faulted. */
  private boolean touch(long va) {
    if (present(va)) {
      return false;
    }
    assertThat(vm.resolve(va, Access.WRITE)).isEqualTo(Fault.RESOLVED);
    assertThat(present(va)).isTrue();
    return true;
  }

  @Test
  void anAscendingTouchDoublesTheBlockUpTo8MiB() {
    context(128L << 20, 128L << 20);
    long pages = 4096; // 16 MiB
    anon(BASE, pages);
    int faults = 0;
    for (long i = 0; i < pages; i++) {
      faults += touch(BASE + i * PAGE) ? 1 : 0;
    }
    // Blocks [0,16) [0,32) [0,64) [0,128) [0,256) [0,512) [0,1024) [0,2048), then one
    // 2048-page block: [2048,4096). With a fixed 16-page block it was 256 faults.
    assertThat(faults).isEqualTo(9);
    assertThat(frames.framesInUse()).as("no page outside the mapping, plus the tables").isBetween(pages, pages + 16);
  }

  @Test
  void aDescendingTouchGrowsTheSameWay() {
    context(128L << 20, 128L << 20);
    long pages = 4096;
    anon(BASE, pages);
    int faults = 0;
    for (long i = pages - 1; i >= 0; i--) {
      faults += touch(BASE + i * PAGE) ? 1 : 0;
    }
    assertThat(faults).as("a stack growing down").isEqualTo(9);
    assertThat(frames.framesInUse()).isBetween(pages, pages + 16);
  }

  /**
   * A block over several leaf tables, some of which exist already with pages present in them:
   * the bulk path fills exactly the pages that were not present, each with a frame of its own,
   * and leaves the others as they were.
   */
  @Test
  void aBlockOverSeveralTablesFillsOnlyTheMissingPages() {
    context(128L << 20, 128L << 20);
    long pages = 2048;
    anon(BASE, pages);
    // Scattered faults first: base blocks in the second and fourth tables.
    assertThat(touch(BASE + 600 * PAGE)).isTrue();
    assertThat(touch(BASE + 1700 * PAGE)).isTrue();
    java.util.Map<Long, Long> before = new java.util.HashMap<>();
    for (long i = 0; i < pages; i++) {
      if (present(BASE + i * PAGE)) {
        before.put(i, vm.tables().lookup(BASE + i * PAGE).leaf());
      }
    }
    assertThat(before).hasSize(32);
    // Then a sequential run up from page 0 grows the block to the whole 8 MiB.
    for (long i = 0; i < pages; i++) {
      touch(BASE + i * PAGE);
    }
    java.util.Set<Long> frameSeen = new java.util.HashSet<>();
    for (long i = 0; i < pages; i++) {
      long leaf = vm.tables().lookup(BASE + i * PAGE).leaf();
      assertThat(Pte.isPresent(leaf)).as("page %d", i).isTrue();
      if (before.containsKey(i)) {
        assertThat(leaf).as("page %d kept its leaf", i).isEqualTo(before.get(i));
      }
      assertThat(frameSeen.add(Pte.address(leaf))).as("page %d has a frame of its own", i).isTrue();
    }
    assertThat(frames.framesInUse()).isBetween(pages, pages + 16);
  }

  @Test
  void scatteredFaultsMapOnlyTheBaseBlock() {
    context(64L << 20, 64L << 20);
    long pages = 4096;
    anon(BASE, pages);
    // Every 64th page, never adjacent to the last block: 16 pages each, no growth.
    for (long i = 0; i < pages; i += 64) {
      assertThat(touch(BASE + i * PAGE)).isTrue();
      assertThat(present(BASE + (i + 15) * PAGE)).isTrue();
      assertThat(present(BASE + (i + 16) * PAGE)).as("page %d", i + 16).isFalse();
    }
    // Random order: a fault that is not next to the last block starts again from 16 pages.
    Random random = new Random(17);
    long before = frames.framesInUse();
    int faults = 0;
    for (int n = 0; n < 200; n++) {
      long i = random.nextLong(pages);
      if (touch(BASE + i * PAGE)) {
        faults++;
      }
    }
    assertThat(frames.framesInUse() - before)
        .as("random faults stay near the base block (16 pages each, the tables aside)")
        .isLessThanOrEqualTo(faults * 48L + 8);
  }

  @Test
  void speculationNeverCostsARealFaultItsMemory() {
    // 8 MiB of frames for an 8 MiB mapping and its page tables: a sequential touch gets exactly
    // as far as a touch without fault-around would, every frame ending up under a page the
    // guest touched or in a table.
    context(64L << 20, 8L << 20);
    long pages = 2048;
    anon(BASE, pages);
    long touched = 0;
    for (long i = 0; i < pages; i++) {
      long va = BASE + i * PAGE;
      if (!present(va) && vm.resolve(va, Access.WRITE) != Fault.RESOLVED) {
        break;
      }
      touched++;
    }
    assertThat(touched).isLessThan(pages);
    assertThat(frames.framesInUse()).isEqualTo(frames.frameLimit());
    long tables = frames.frameLimit() - touched;
    assertThat(tables).as("the frames not under touched pages are page tables").isBetween(1L, 8L);
  }

  @Test
  void aSplitEntryStartsAgainFromTheBaseBlock() {
    context(64L << 20, 64L << 20);
    long pages = 2048;
    anon(BASE, pages);
    for (long i = 0; i < 64; i++) {
      touch(BASE + i * PAGE);
    }
    // mprotect splits the entry: the part after the split has never faulted.
    vm.mprotect(BASE + 1024 * PAGE, 1024 * PAGE, Prot.PROT_READ | Prot.PROT_WRITE | Prot.PROT_EXEC);
    assertThat(touch(BASE + 1024 * PAGE)).isTrue();
    assertThat(present(BASE + 1039 * PAGE)).isTrue();
    assertThat(present(BASE + 1040 * PAGE)).isFalse();
  }

  @Test
  void hugePageAdviceMapsTheWhole2MiBBlockOnTheFirstFault() {
    context(64L << 20, 64L << 20);
    long pages = 2048; // four 2 MiB blocks
    anon(BASE, pages);
    vm.mcontrol(BASE, pages * PAGE, Madvise.MADV_HUGEPAGE, 0);
    assertThat(touch(BASE + 700 * PAGE)).isTrue();
    assertThat(present(BASE + 512 * PAGE)).as("its block's first page").isTrue();
    assertThat(present(BASE + 1023 * PAGE)).as("its block's last page").isTrue();
    assertThat(present(BASE + 511 * PAGE)).as("the block before").isFalse();
    assertThat(present(BASE + 1024 * PAGE)).as("the block after").isFalse();
    int faults = 1;
    for (long i = 0; i < pages; i++) {
      faults += touch(BASE + i * PAGE) ? 1 : 0;
    }
    assertThat(faults).as("one fault per 2 MiB block, against 9 unadvised").isEqualTo(4);
  }

  @Test
  void noHugePageAdviceNeverGrowsTheBlock() {
    context(64L << 20, 64L << 20);
    long pages = 2048;
    anon(BASE, pages);
    vm.mcontrol(BASE, pages * PAGE, Madvise.MADV_NOHUGEPAGE, 0);
    int faults = 0;
    for (long i = 0; i < pages; i++) {
      faults += touch(BASE + i * PAGE) ? 1 : 0;
    }
    assertThat(faults).as("16 pages per fault, however sequential").isEqualTo(128);
  }

  @Test
  void adviceCoversOnlyItsRangeAndSurvivesSplitsAndFork() {
    context(64L << 20, 64L << 20);
    long pages = 2048;
    anon(BASE, pages);
    // Advice on the middle two blocks splits the entry; mprotect then splits the advised part.
    vm.mcontrol(BASE + 512 * PAGE, 1024 * PAGE, Madvise.MADV_HUGEPAGE, 0);
    vm.mprotect(BASE + 1024 * PAGE, 512 * PAGE, Prot.PROT_READ | Prot.PROT_WRITE | Prot.PROT_EXEC);
    assertThat(touch(BASE + 100 * PAGE)).isTrue();
    assertThat(present(BASE + 116 * PAGE)).as("unadvised: the base block").isFalse();
    assertThat(touch(BASE + 1100 * PAGE)).isTrue();
    assertThat(present(BASE + 1024 * PAGE)).as("advised, after mprotect").isTrue();
    assertThat(present(BASE + 1535 * PAGE)).isTrue();

    Vmspace child = vm.fork(2);
    try {
      Vmspace parent = vm;
      vm = child;
      assertThat(touch(BASE + 600 * PAGE)).isTrue();
      assertThat(present(BASE + 1023 * PAGE)).as("the child's copy keeps the advice").isTrue();
      vm = parent;
    } finally {
      child.destroy();
    }
  }

  @Test
  void adviceOverHolesAppliesToTheMappedParts() {
    context(64L << 20, 64L << 20);
    anon(BASE + 512 * PAGE, 512);
    vm.mcontrol(BASE, 2048 * PAGE, Madvise.MADV_HUGEPAGE, 0);
    assertThat(touch(BASE + 520 * PAGE)).isTrue();
    assertThat(present(BASE + 1023 * PAGE)).isTrue();
    assertThat(vm.toString()).isNotNull();
  }

  /** Regression (HostileRandomTest, seed 1447446): an empty range split its entry into an empty piece. */
  @Test
  void adviceOnAnEmptyRangeChangesNothing() {
    context(64L << 20, 64L << 20);
    anon(BASE, 512);
    vm.mcontrol(BASE + 42 * PAGE, 0, Madvise.MADV_HUGEPAGE, 0);
    vm.verify();
    assertThat(touch(BASE + 42 * PAGE)).isTrue();
    assertThat(present(BASE + 64 * PAGE)).as("no advice took effect").isFalse();
  }
}
