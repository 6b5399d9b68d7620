package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmspace.kvm.testing.GuestFixture.at;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.vmspace.api.Errno;
import org.vmspace.api.MapFlags;
import org.vmspace.api.Prot;
import org.vmspace.api.RunResult;
import org.vmspace.api.Trap;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceOptions;
import org.vmspace.kvm.testing.GuestFixture;
import org.vmspace.kvm.testing.KvmTests;

/** The two extensions a virtual kernel needs: copy-on-write fork and mprotect. */
@Tag("kvm")
@Tag("shadow-paging")
class ForkAndProtectTest {
  private static final long DATA = 0x6000_0000L;
  private static final int RW = Prot.PROT_READ | Prot.PROT_WRITE;
  private final GuestFixture g = new GuestFixture(KvmTests.open(VmspaceOptions.builder().memoryLimit(64L << 20).maxVcpus(4).build()));

  @AfterEach
  void close() {
    System.clearProperty("vmspace.forkCopyPages");
    g.close();
  }

  private TrapFrame tryWrite(VmspaceId id, long va) {
    TrapFrame f = at("do_write").rbx(va).rax(1);
    g.run(id, f, new VextFrame());
    return f;
  }

  private static Errno errno(Runnable r) {
    try {
      r.run();
      return null;
    } catch (VmspaceException e) {
      return e.errno();
    }
  }

  @Test
  void aCopyOnWriteFaultTakesItsNeighboursAlongWithoutMixingTheTwoSides() {
    // Copy-on-write only (the fork's copy budget would give the child its own pages at once).
    System.setProperty("vmspace.forkCopyPages", "0");
    VmspaceId parent = g.space(1);
    int pages = 32;
    g.anon(parent, DATA, pages * 4096L, RW);
    for (int i = 0; i < pages; i++) {
      g.writeReport(parent, DATA + 4096L * i, 1000 + i);
    }
    VmspaceId child = VmspaceId.of(2);
    g.vms.fork(parent, child);
    // One write in the child copies its block; every page of both sides must still read as
    // that side last wrote it, whichever side writes next.
    g.writeReport(child, DATA + 4096L * 5, 2005);
    for (int i = 0; i < pages; i += 3) {
      g.writeReport(parent, DATA + 4096L * i, 3000 + i);
    }
    for (int i = 1; i < pages; i += 4) {
      g.writeReport(child, DATA + 4096L * i, 4000 + i);
    }
    for (int i = 0; i < pages; i++) {
      long expectParent = i % 3 == 0 ? 3000 + i : 1000 + i;
      long expectChild = i % 4 == 1 ? 4000 + i : i == 5 ? 2005 : 1000 + i;
      assertThat(g.readReport(parent, DATA + 4096L * i)).as("parent page %d", i).isEqualTo(expectParent);
      assertThat(g.readReport(child, DATA + 4096L * i)).as("child page %d", i).isEqualTo(expectChild);
    }
    // The child is gone: the parent's pages are its own again and take writes.
    g.vms.destroy(child);
    for (int i = 0; i < pages; i++) {
      g.writeReport(parent, DATA + 4096L * i, 5000 + i);
      assertThat(g.readReport(parent, DATA + 4096L * i)).isEqualTo(5000 + i);
    }
  }

  @Test
  void forkCopiesPrivateMemoryOnWriteAndSharesSharedMemory() {
    VmspaceId parent = g.space(1);
    g.anon(parent, DATA, 4 * 4096, RW);
    g.vms.mmap(parent, DATA + 0x10000, 4096, RW, MapFlags.MAP_SHARED | MapFlags.MAP_ANON | MapFlags.MAP_FIXED, null, 0);
    g.writeReport(parent, DATA, 1);
    g.writeReport(parent, DATA + 0x10000, 100);
    VmspaceId child = VmspaceId.of(2);
    g.vms.fork(parent, child);
    assertThat(g.readReport(child, DATA)).isEqualTo(1);
    g.writeReport(child, DATA, 2);
    assertThat(g.readReport(parent, DATA)).as("the parent keeps its page").isEqualTo(1);
    g.writeReport(parent, DATA, 3);
    assertThat(g.readReport(child, DATA)).isEqualTo(2);
    assertThat(g.readReport(parent, DATA)).isEqualTo(3);
    // Shared memory stays shared.
    g.writeReport(child, DATA + 0x10000, 200);
    assertThat(g.readReport(parent, DATA + 0x10000)).isEqualTo(200);
    // Untouched pages: zero in both, and separate afterwards.
    g.writeReport(child, DATA + 4096, 7);
    assertThat(g.readReport(parent, DATA + 4096)).isZero();
    // The program text and stack came along: the child ran at all.
    g.vms.destroy(parent);
    assertThat(g.readReport(child, DATA)).as("the child outlives the parent").isEqualTo(2);
  }

  @Test
  void repeatedForksAndExitsGiveTheirMemoryBack() {
    VmspaceId parent = g.space(1);
    long size = 2L << 20;
    g.anon(parent, DATA, size, RW);
    TrapFrame touch = at("touch_pages").rbx(DATA).rcx(size / 4096);
    assertThat(g.run(parent, touch, new VextFrame())).isEqualTo(RunResult.SYSCALL);
    for (int i = 0; i < 40; i++) {
      VmspaceId child = VmspaceId.of(100 + i);
      g.vms.fork(parent, child);
      // The child writes every page: 2 MiB of copies each time, 80 MiB in all, in a 64 MiB limit.
      TrapFrame t = at("touch_pages").rbx(DATA).rcx(size / 4096);
      assertThat(g.run(child, t, new VextFrame())).isEqualTo(RunResult.SYSCALL);
      assertThat(t.rdi()).as("the child saw the parent's bytes").isEqualTo(size / 4096);
      g.vms.destroy(child);
    }
    assertThat(g.readReport(parent, DATA)).isEqualTo(1);
  }

  @Test
  void forkErrors() {
    VmspaceId parent = g.space(1);
    assertThat(errno(() -> g.vms.fork(VmspaceId.of(9), VmspaceId.of(10)))).isEqualTo(Errno.ENOENT);
    assertThat(errno(() -> g.vms.fork(parent, VmspaceId.NULL))).isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> g.vms.fork(parent, parent))).isEqualTo(Errno.EEXIST);
  }

  @Test
  void mprotectDowngradesAndUpgradesWithoutLosingData() {
    VmspaceId id = g.space(1);
    g.anon(id, DATA, 3 * 4096, RW);
    g.writeReport(id, DATA + 4096, 0x55);
    g.vms.mprotect(id, DATA + 4096, 4096, Prot.PROT_READ);
    TrapFrame w = tryWrite(id, DATA + 4096);
    assertThat(w.trapno()).isEqualTo(Trap.T_PAGEFLT);
    assertThat(w.err()).isEqualTo(Trap.PF_USER | Trap.PF_WRITE | Trap.PF_PRESENT);
    assertThat(g.readReport(id, DATA + 4096)).isEqualTo(0x55);
    assertThat(g.vms.pwrite(id, MemorySegment.ofArray(new long[1]), 8, 0, DATA + 4096)).isZero();
    g.writeReport(id, DATA, 1); // the neighbours keep their protection
    g.writeReport(id, DATA + 8192, 2);
    g.vms.mprotect(id, DATA + 4096, 4096, Prot.PROT_NONE);
    TrapFrame r = at("do_read").rbx(DATA + 4096);
    assertThat(g.run(id, r, new VextFrame())).isEqualTo(RunResult.PAGEFAULT);
    assertThat(r.err()).isEqualTo(Trap.PF_USER | Trap.PF_PRESENT);
    assertThat(g.vms.pread(id, MemorySegment.ofArray(new long[1]), 8, 0, DATA + 4096)).isZero();
    g.vms.mprotect(id, DATA + 4096, 4096, RW);
    assertThat(g.readReport(id, DATA + 4096)).as("kept through PROT_NONE").isEqualTo(0x55);
    g.writeReport(id, DATA + 4096, 0x66);
    assertThat(g.readReport(id, DATA + 4096)).isEqualTo(0x66);
  }

  @Test
  void mprotectOfForkedMemoryStaysCopyOnWrite() {
    VmspaceId parent = g.space(1);
    g.anon(parent, DATA, 4096, RW);
    g.writeReport(parent, DATA, 10);
    VmspaceId child = VmspaceId.of(2);
    g.vms.fork(parent, child);
    g.vms.mprotect(child, DATA, 4096, Prot.PROT_READ);
    g.vms.mprotect(child, DATA, 4096, RW);
    g.writeReport(child, DATA, 11);
    assertThat(g.readReport(parent, DATA)).isEqualTo(10);
  }

  @Test
  void mprotectErrors() {
    VmspaceId id = g.space(1);
    g.anon(id, DATA, 4096, RW);
    assertThat(errno(() -> g.vms.mprotect(VmspaceId.of(9), 1, 1, 99))).isEqualTo(Errno.ENOENT);
    assertThat(errno(() -> g.vms.mprotect(id, DATA + 1, 4096, 1))).isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> g.vms.mprotect(id, DATA, 4096, 8))).isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> g.vms.mprotect(id, DATA, 8192, 1))).as("not entirely mapped").isEqualTo(Errno.ENOMEM);
    assertThat(errno(() -> g.vms.mprotect(id, 0x7FFF_FFE0_0000L - 4096, 8192, 1))).isEqualTo(Errno.ENOMEM);
    assertThat(errno(() -> g.vms.mprotect(id, DATA, 0, 1))).as("empty range").isNull();
  }
}
