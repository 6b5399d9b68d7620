package org.vmspace.kvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.vmspace.api.MapFlags;
import org.vmspace.api.Prot;
import org.vmspace.kvm.memory.FrameAllocator;
import org.vmspace.kvm.memory.FrameRefs;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.paging.Access;
import org.vmspace.kvm.paging.PageWalker;
import org.vmspace.kvm.paging.Pte;
import org.vmspace.kvm.vm.Vmspace.Fault;

/**
 * The fork's eager copies on the host, without a guest (as FaultAroundTest): which pages the
 * budget copies, that the frames' reference counts balance (every frame back once both sides are
 * destroyed), and that the copies give way to copy-on-write when memory is short. The guest's
 * side (exit counts, each side's contents) is ForkCopyKvmTest's.
 */
class ForkCopyTest {
  private static final long PAGE = 4096;
  private static final long BASE = 0x4000_0000L;
  private static final long SMALL = 0x5000_0000L;
  private static final long SHARED = 0x5800_0000L;

  private HostSpace host;
  private GuestMemory memory;
  private FrameAllocator frames;
  private FrameRefs refs;
  private PhysicalSpace space;

  private void context(long memoryBytes, long limitBytes) {
    host = new HostSpace("fork-copy-test", memoryBytes, limitBytes);
    memory = host.memory();
    frames = host.frames();
    refs = host.refs();
    space = host;
  }

  @AfterEach
  void close() {
    System.clearProperty(ForkCopy.BUDGET_PROPERTY);
    if (host != null) {
      host.close();
    }
  }

  /** A private anonymous mapping of {@code pages} pages at {@code at}, each written with its index + 1. */
  private static void written(Vmspace vm, long at, long pages) {
    vm.mmap(at, pages * PAGE, Prot.PROT_READ | Prot.PROT_WRITE,
        MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON | MapFlags.MAP_FIXED, null, 0, null);
    for (long i = 0; i < pages; i++) {
      write(vm, at + i * PAGE, i + 1);
    }
  }

  /** Writes as the guest would: a write fault first unless the page is present and writable. */
  private static void write(Vmspace vm, long va, long value) {
    PageWalker.Translation t = vm.tables().lookup(va);
    if (!t.isPresent() || (t.leaf() & Pte.RW) == 0) {
      assertThat(vm.resolve(va, Access.WRITE)).isEqualTo(Fault.RESOLVED);
      t = vm.tables().lookup(va);
    }
    vm.space.memory().writeLong(Pte.address(t.leaf()), value);
  }

  private static long read(Vmspace vm, long va) {
    return vm.space.memory().readLong(Pte.address(vm.tables().lookup(va).leaf()));
  }

  private static long leaf(Vmspace vm, long va) {
    return vm.tables().lookup(va).leaf();
  }

  @Test
  void theBudgetCopiesTheSmallerMappingsAndTheReferenceCountsBalance() {
    context(64L << 20, 64L << 20);
    System.setProperty(ForkCopy.BUDGET_PROPERTY, "64");
    long empty = frames.framesInUse();
    Vmspace parent = Vmspace.create(1, space);
    written(parent, SMALL, 40); // within the budget: copied
    written(parent, BASE, 100); // over it: shared copy-on-write
    parent.mmap(SHARED, 4 * PAGE, Prot.PROT_READ | Prot.PROT_WRITE,
        MapFlags.MAP_SHARED | MapFlags.MAP_ANON | MapFlags.MAP_FIXED, null, 0, null);
    write(parent, SHARED, 77);
    long before = frames.framesInUse();

    Vmspace child = parent.fork(2);
    for (long i = 0; i < 40; i++) {
      long p = leaf(parent, SMALL + i * PAGE);
      long c = leaf(child, SMALL + i * PAGE);
      assertThat(p & Pte.RW).as("the parent keeps page %d writable", i).isNotZero();
      assertThat(c & Pte.RW).as("the child's copy of page %d is writable", i).isNotZero();
      assertThat(Pte.address(c)).isNotEqualTo(Pte.address(p));
      assertThat(refs.count(Pte.address(p))).isEqualTo(1);
      assertThat(refs.count(Pte.address(c))).isEqualTo(1);
      assertThat(read(child, SMALL + i * PAGE)).isEqualTo(i + 1);
    }
    for (long i = 0; i < 100; i++) {
      long p = leaf(parent, BASE + i * PAGE);
      assertThat(p & Pte.RW).as("page %d of the large mapping is copy-on-write", i).isZero();
      assertThat(leaf(child, BASE + i * PAGE)).isEqualTo(p);
      assertThat(refs.count(Pte.address(p))).isEqualTo(2);
    }
    assertThat(Pte.address(leaf(child, SHARED))).as("shared memory stays shared").isEqualTo(Pte.address(leaf(parent, SHARED)));
    assertThat(frames.framesInUse() - before).as("40 copies and the child's tables").isBetween(40L, 40L + 8);

    // Writes on both sides, then each side's teardown gives back exactly what it held.
    write(child, SMALL, 1000);
    write(child, BASE, 2000);
    write(parent, BASE + 50 * PAGE, 3000);
    assertThat(read(parent, SMALL)).isEqualTo(1);
    assertThat(read(parent, BASE)).isEqualTo(1);
    assertThat(read(child, BASE + 50 * PAGE)).isEqualTo(51);
    child.destroy();
    assertThat(refs.count(Pte.address(leaf(parent, BASE + 99 * PAGE)))).isEqualTo(1);
    assertThat(frames.framesInUse()).as("the child's frames and tables are back").isEqualTo(before);
    parent.destroy();
    assertThat(frames.framesInUse()).as("every frame is back").isEqualTo(empty);
  }

  @Test
  void aBudgetOfZeroIsPureCopyOnWrite() {
    context(64L << 20, 64L << 20);
    System.setProperty(ForkCopy.BUDGET_PROPERTY, "0");
    long empty = frames.framesInUse();
    Vmspace parent = Vmspace.create(1, space);
    written(parent, SMALL, 4);
    Vmspace child = parent.fork(2);
    for (long i = 0; i < 4; i++) {
      assertThat(leaf(parent, SMALL + i * PAGE) & Pte.RW).isZero();
      assertThat(leaf(child, SMALL + i * PAGE)).isEqualTo(leaf(parent, SMALL + i * PAGE));
    }
    parent.destroy();
    child.destroy();
    assertThat(frames.framesInUse()).isEqualTo(empty);
  }

  @Test
  void shortOfMemoryTheForkSharesInsteadOfCopying() {
    // 1 MiB of frames: the parent's 64 pages and tables leave under 192 free, an eighth of
    // which (under 24) cannot hold the 64 copies.
    context(64L << 20, 1L << 20);
    long empty = frames.framesInUse();
    Vmspace parent = Vmspace.create(1, space);
    written(parent, SMALL, 64);
    Vmspace child = parent.fork(2);
    assertThat(leaf(parent, SMALL) & Pte.RW).as("shared, not copied").isZero();
    assertThat(leaf(child, SMALL)).isEqualTo(leaf(parent, SMALL));
    write(child, SMALL + 5 * PAGE, 99);
    assertThat(read(parent, SMALL + 5 * PAGE)).isEqualTo(6);
    child.destroy();
    parent.destroy();
    assertThat(frames.framesInUse()).isEqualTo(empty);
  }

  @Test
  void aNegativeBudgetIsRefused() {
    System.setProperty(ForkCopy.BUDGET_PROPERTY, "-1");
    org.assertj.core.api.Assertions.assertThatThrownBy(ForkCopy::budgetPages)
        .isInstanceOf(IllegalArgumentException.class);
  }
}
