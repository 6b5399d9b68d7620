package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.vmspace.kvm.testing.GuestFixture.at;

import java.lang.foreign.MemorySegment;
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

/** The per-context memory limit: past it, ENOMEM or an unresolved fault, and nothing breaks. */
@Tag("kvm")
class MemoryLimitTest {
  private static final long MB = 1L << 20;
  private static final int RW = Prot.PROT_READ | Prot.PROT_WRITE;
  private static final VmspaceOptions LIMIT_32M = VmspaceOptions.builder().memoryLimit(32 * MB).maxVcpus(2).build();

  private static Errno errno(Runnable r) {
    try {
      r.run();
      return null;
    } catch (VmspaceException e) {
      return e.errno();
    }
  }

  @Test
  void writableMappingsLargerThanTheLimitAndObjectsLargerThanWhatIsLeftAreRefused() {
    try (GuestFixture g = new GuestFixture(KvmTests.open(LIMIT_32M))) {
      VmspaceId id = g.space(1);
      assertThat(errno(() -> g.vms.mmap(id, 0, 64 * MB, RW, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON, null, 0)))
          .isEqualTo(Errno.ENOMEM);
      assertThat(errno(() -> g.vms.createMemoryObject(64 * MB))).isEqualTo(Errno.ENOMEM);
      // Under the limit it works, and the limit still holds afterwards.
      g.anon(id, 0x6000_0000L, 24 * MB, RW);
      assertThat(errno(() -> g.vms.mmap(id, 0, 24 * MB, RW, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON, null, 0)))
          .isNull(); // nothing is allocated yet: 24 MiB still fit
      TrapFrame touch = at("touch_pages").rbx(0x6000_0000L).rcx(24 * MB / 4096);
      assertThat(g.run(id, touch, new VextFrame())).isEqualTo(RunResult.SYSCALL);
      // Overcommit as Linux's heuristic: memory is taken when touched, so a mapping that fits in
      // the limit is accepted even when less is left; touching it is what fails (see below).
      assertThat(errno(() -> g.vms.mmap(id, 0, 24 * MB, RW, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON, null, 0)))
          .isNull();
      // Reservations cost nothing: PROT_NONE, read-only or MAP_NORESERVE, far over the limit.
      assertThat(errno(() -> g.vms.mmap(id, 0, 1L << 40, Prot.PROT_NONE, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON, null, 0)))
          .isNull();
      assertThat(errno(() -> g.vms.mmap(id, 0, 64L << 30, Prot.PROT_READ, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON, null, 0)))
          .isNull();
      assertThat(errno(() -> g.vms.mmap(id, 0, 64L << 30, RW,
          MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON | MapFlags.MAP_NORESERVE, null, 0))).isNull();
      assertThat(errno(() -> g.vms.mmap(id, 0, 64L << 30, RW, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON, null, 0)))
          .isEqualTo(Errno.ENOMEM);
    }
  }

  @Test
  void touchingPastTheLimitIsAnUnresolvedFaultAndFreeingMakesRoom() {
    try (GuestFixture g = new GuestFixture(KvmTests.open(LIMIT_32M))) {
      VmspaceId id = g.space(1);
      long a = 0x6000_0000L;
      long b = 0x7000_0000L + 0x1000_0000L;
      g.anon(id, a, 20 * MB, RW);
      g.anon(id, b, 12 * MB, RW);
      TrapFrame first = at("touch_pages").rbx(a).rcx(20 * MB / 4096);
      assertThat(g.run(id, first, new VextFrame())).isEqualTo(RunResult.SYSCALL);
      TrapFrame second = at("touch_pages").rbx(b).rcx(12 * MB / 4096);
      assertThat(g.run(id, second, new VextFrame())).isEqualTo(RunResult.PAGEFAULT);
      assertThat(second.trapno()).isEqualTo(Trap.T_PAGEFLT);
      assertThat(second.addr()).isBetween(b, b + 12 * MB);
      // pwrite stops at the page it cannot allocate.
      byte[] buf = new byte[(int) (12 * MB)];
      long written = g.vms.pwrite(id, MemorySegment.ofArray(buf), buf.length, 0, b);
      assertThat(written).isLessThan(buf.length);
      // Give memory back: the same guest run now completes.
      g.vms.munmap(id, a, 20 * MB);
      assertThat(g.run(id, second, new VextFrame())).isEqualTo(RunResult.SYSCALL);
    }
  }

  @Test
  void creatingVmspacesUntilMemoryRunsOutFailsCleanly() {
    try (GuestFixture g = new GuestFixture(KvmTests.open(LIMIT_32M))) {
      VmspaceId big = g.space(1);
      g.anon(big, 0x6000_0000L, 31 * MB, RW);
      TrapFrame touch = at("touch_pages").rbx(0x6000_0000L).rcx(31 * MB / 4096);
      g.run(big, touch, new VextFrame()); // fills memory (ends in a fault near the limit)
      Errno last = null;
      for (int i = 2; i < 20_000 && last == null; i++) {
        int n = i;
        last = errno(() -> g.vms.create(VmspaceId.of(n)));
      }
      assertThat(last).isEqualTo(Errno.ENOMEM);
      g.vms.destroy(big);
      g.vms.create(VmspaceId.of(1000)); // memory came back
    }
  }
}
