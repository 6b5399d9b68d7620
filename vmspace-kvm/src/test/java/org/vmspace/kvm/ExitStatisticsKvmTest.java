package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.vmspace.kvm.testing.GuestFixture.at;

import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.vmspace.api.Errno;
import org.vmspace.api.ExitStatistics;
import org.vmspace.api.Prot;
import org.vmspace.api.RunResult;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceId;
import org.vmspace.kvm.testing.GuestFixture;
import org.vmspace.kvm.vm.Vmspace;

/**
 * The exit counts are exact for guests whose exits are known: N system calls are N syscall
 * exits, touching M fresh pages costs a demand fault per fault-around block, an unmap of touched pages
 * is one revocation batch, and a destroyed vmspace's counts stay in the service's total.
 */
@Tag("kvm")
class ExitStatisticsKvmTest {
  private static final long DATA = 0x6000_0000L;
  private static final int PAGES = 64;

  private final GuestFixture g = new GuestFixture();

  @AfterEach
  void close() {
    System.clearProperty("vmspace.forkCopyPages");
    g.close();
  }

  /**
   * Demand faults of an ascending first touch of {@code pages} pages from a 2 MiB aligned
   * address: the first maps a base block, each next one (on the page just past the last block)
   * the aligned block twice as large around it, up to the largest (3 for 64 pages by default:
   * 16, 32, 64).
   */
  private static int sequentialFaults(int pages) {
    int block = Vmspace.FAULT_AROUND_PAGES;
    long end = Math.min(block, pages);
    int faults = 1;
    while (end < pages) {
      block = Math.min(block * 2, Vmspace.FAULT_AROUND_MAX_PAGES);
      end = Math.min(pages, (end & ~(block - 1L)) + block);
      faults++;
    }
    return faults;
  }

  private ExitStatistics stats(VmspaceId id) {
    ExitStatistics s = g.vms.exitStatistics(id);
    // Whatever the guest did: every exit has one kind and one KVM reason, and guest time is
    // part of the time in ctl(RUN).
    assertThat(s.kvmExits().values().stream().mapToLong(Long::longValue).sum()).isEqualTo(s.exits());
    assertThat(s.guestNanos()).isLessThanOrEqualTo(s.runNanos());
    return s;
  }

  @Test
  void syscallsFreshPagesFaultsTrapsAndTimeoutsAreCountedExactly() {
    VmspaceId id = g.space(1);
    assertThat(stats(id)).as("a new vmspace").isEqualTo(ExitStatistics.EMPTY);
    VextFrame x = new VextFrame();
    TrapFrame f = at("syscall_loop").rax(0);
    assertThat(g.run(id, f, x)).isEqualTo(RunResult.SYSCALL);
    ExitStatistics first = stats(id);
    // The first instruction fetch faults the text page in (fault-around maps the rest of the
    // image with it); syscall_loop touches no other memory.
    assertThat(first.demandFaults()).isEqualTo(1);
    assertThat(first.syscalls()).isEqualTo(1);
    assertThat(first.exits()).isEqualTo(2);
    assertThat(first.kvmExits()).containsOnlyKeys("IO");
    assertThat(first.guestNanos()).isPositive();

    int n = 50;
    for (int i = 0; i < n; i++) {
      assertThat(g.run(id, f, x)).isEqualTo(RunResult.SYSCALL);
    }
    ExitStatistics loop = stats(id).minus(first);
    assertThat(loop.syscalls()).isEqualTo(n);
    assertThat(loop.exits()).as("nothing but the system calls").isEqualTo(n);

    g.anon(id, DATA, PAGES * 4096L, Prot.PROT_READ | Prot.PROT_WRITE);
    ExitStatistics before = stats(id);
    assertThat(g.run(id, at("touch_pages").rbx(DATA).rcx(PAGES), x)).isEqualTo(RunResult.SYSCALL);
    ExitStatistics touch = stats(id).minus(before);
    assertThat(touch.demandFaults()).as("one fault per fault-around block, each twice the last")
        .isEqualTo(sequentialFaults(PAGES));
    assertThat(touch.syscalls()).isEqualTo(1);
    assertThat(touch.exits()).isEqualTo(1 + sequentialFaults(PAGES));
    assertThat(touch.revocations()).isZero();

    before = stats(id);
    g.vms.munmap(id, DATA, PAGES * 4096L);
    assertThat(stats(id).minus(before).revocations()).as("munmap of touched pages").isEqualTo(1);
    g.anon(id, DATA, PAGES * 4096L, Prot.PROT_READ | Prot.PROT_WRITE);
    g.vms.munmap(id, DATA, PAGES * 4096L);
    assertThat(stats(id).minus(before).revocations()).as("munmap of untouched pages stores nothing").isEqualTo(1);

    before = stats(id);
    assertThat(g.run(id, at("touch_pages").rbx(DATA).rcx(1), x)).isEqualTo(RunResult.PAGEFAULT);
    assertThat(g.run(id, at("do_ud2"), x)).isEqualTo(RunResult.TRAP);
    assertThat(g.vms.run(id, at("spin"), x, Duration.ofMillis(20))).isEqualTo(RunResult.TIMEOUT);
    ExitStatistics returned = stats(id).minus(before);
    assertThat(returned.pageFaults()).isEqualTo(1);
    assertThat(returned.traps()).isEqualTo(1);
    assertThat(returned.interrupts()).isEqualTo(1);
    assertThat(returned.demandFaults()).isZero();
    assertThat(returned.otherExits()).isZero();
    assertThat(returned.kvmExits()).containsEntry("IO", 2L).containsEntry("INTR", 1L);
  }

  @Test
  void forksStartFromZeroAndDestroyedVmspacesStayInTheServiceTotal() {
    VmspaceId parent = g.space(1);
    VmspaceId other = g.space(2);
    VextFrame x = new VextFrame();
    g.anon(parent, DATA, PAGES * 4096L, Prot.PROT_READ | Prot.PROT_WRITE);
    assertThat(g.run(parent, at("touch_pages").rbx(DATA).rcx(PAGES), x)).isEqualTo(RunResult.SYSCALL);
    assertThat(g.run(other, at("one_syscall"), new VextFrame())).isEqualTo(RunResult.SYSCALL);
    ExitStatistics p = stats(parent);
    ExitStatistics o = stats(other);
    assertThat(g.vms.exitStatistics()).as("the service's total").isEqualTo(p.plus(o));

    VmspaceId child = VmspaceId.of(3);
    g.vms.fork(parent, child);
    assertThat(stats(child)).as("a fork's child").isEqualTo(ExitStatistics.EMPTY);
    // The parent's 64 written pages are within the fork's copy budget (vmspace.forkCopyPages,
    // 512 by default): the child gets copies and nothing of the parent's is write-protected.
    assertThat(stats(parent).minus(p).revocations()).as("fork copies, downgrades nothing").isZero();
    assertThat(stats(parent).minus(p).exits()).isZero();

    ExitStatistics total = g.vms.exitStatistics();
    ExitStatistics o2 = stats(other);
    g.vms.destroy(other);
    assertThatThrownBy(() -> g.vms.exitStatistics(other))
        .isInstanceOfSatisfying(VmspaceException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT));
    ExitStatistics after = g.vms.exitStatistics().minus(total);
    assertThat(after.exits()).as("the destroyed vmspace's exits are still counted once").isZero();
    assertThat(after.revocations()).as("its teardown revoked its present pages").isEqualTo(1);
    assertThat(g.vms.exitStatistics().minus(stats(parent)).minus(stats(child)).exits()).isEqualTo(o2.exits());
    try (var inherited = g.vms.inherit()) {
      assertThat(inherited.exitStatistics()).isEqualTo(g.vms.exitStatistics());
    }
  }
  // Also under shadow paging: a widening no revocation announces is where a stale translation
  // would show (a write that faults for ever, or reaches the old frame).
  @Test
  @Tag("shadow-paging")
  void aWriteAfterTheOtherSideOfAForkLetGoWidensInPlaceWithoutARevocation() {
    // Copy-on-write only: with the fork's copy budget the parent's pages would never be shared.
    System.setProperty("vmspace.forkCopyPages", "0");
    VmspaceId parent = g.space(1);
    g.anon(parent, DATA, PAGES * 4096L, Prot.PROT_READ | Prot.PROT_WRITE);
    TrapFrame first = at("touch_pages").rbx(DATA).rcx(PAGES);
    assertThat(g.run(parent, first, new VextFrame())).isEqualTo(RunResult.SYSCALL);
    assertThat(first.rdi()).as("fresh pages read zero").isZero();
    int blocks = PAGES / Vmspace.FAULT_AROUND_PAGES;

    // While the child shares the pages, the parent's first writes copy them: a guest-side
    // revocation for each fault-around block.
    VmspaceId child = VmspaceId.of(2);
    g.vms.fork(parent, child);
    ExitStatistics before = stats(parent);
    TrapFrame shared = at("touch_pages").rbx(DATA).rcx(PAGES);
    assertThat(g.run(parent, shared, new VextFrame())).isEqualTo(RunResult.SYSCALL);
    assertThat(shared.rdi()).isEqualTo(PAGES);
    ExitStatistics copying = stats(parent).minus(before);
    assertThat(copying.demandFaults()).isEqualTo(blocks);
    assertThat(copying.revocations()).as("copies change frames").isEqualTo(blocks);

    // Once the child is gone (as after its exec), the pages are the parent's alone: its writes
    // only widen its read-only entries, in place.
    VmspaceId second = VmspaceId.of(3);
    g.vms.fork(parent, second);
    g.vms.destroy(second);
    before = stats(parent);
    TrapFrame alone = at("touch_pages").rbx(DATA).rcx(PAGES);
    assertThat(g.run(parent, alone, new VextFrame())).isEqualTo(RunResult.SYSCALL);
    assertThat(alone.rdi()).isEqualTo(PAGES);
    ExitStatistics widening = stats(parent).minus(before);
    assertThat(widening.demandFaults()).isEqualTo(blocks);
    assertThat(widening.revocations()).as("nothing to revoke when rights only widen").isZero();

    // The child still sees the bytes of the fork, and the parent its own.
    TrapFrame inChild = at("touch_pages").rbx(DATA).rcx(PAGES);
    assertThat(g.run(child, inChild, new VextFrame())).isEqualTo(RunResult.SYSCALL);
    assertThat(inChild.rdi()).as("the child's copy: the bytes at its fork").isEqualTo(PAGES);
  }
}
