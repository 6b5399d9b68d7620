package org.vmspace.pagetest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.vmspace.pagetest.Bits.A;
import static org.vmspace.pagetest.Bits.D;
import static org.vmspace.pagetest.Bits.NX;
import static org.vmspace.pagetest.Bits.P;
import static org.vmspace.pagetest.Bits.RW;
import static org.vmspace.pagetest.Bits.US;

import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.Trap;
import org.vmspace.api.VmspaceService;
import org.vmspace.api.Vmspaces;

/** The runner on its own, without the model: what it reports for each kind of ending. */
@Tag("kvm")
@Tag("shadow-paging")
class AccessRunnerTest {
  private static final long VA = 0x40_0000L;

  @Test
  void readsWritesAndFetchesEndAsTheTablesSay() {
    try (VmspaceService vms = Vmspaces.open(); MemoryObject obj = vms.createMemoryObject(8 << 20)) {
      PageTableBuilder b = PageTableBuilder.in(obj.segment(), 0, 1 << 20);
      b.map(VA, 0x20_0000, PageSize.SIZE_4K, P | US | NX);
      obj.segment().set(ValueLayout.JAVA_LONG, 0x20_0010, 0x1122334455667788L);
      try (AccessRunner r = new AccessRunner(vms, obj, b)) {
        MachineResult read = r.run(UserAccess.read(VA + 0x10));
        assertThat(read.completed()).as("%s", read).isTrue();
        assertThat(read.value()).isEqualTo(0x1122334455667788L);
        assertThat(read.entry(Level.PTE).value() & A).as("%s", read).isEqualTo(A);

        MachineResult write = r.run(UserAccess.write(VA + 0x10));
        assertThat(write.faulted()).as("%s", write).isTrue();
        assertThat(write.errorCode()).isEqualTo(Trap.PF_USER | Trap.PF_WRITE | Trap.PF_PRESENT);
        assertThat(write.cr2()).isEqualTo(VA + 0x10);

        MachineResult fetch = r.run(UserAccess.fetch(VA + 0x20));
        assertThat(fetch.faulted()).as("%s", fetch).isTrue();
        assertThat(fetch.errorCode()).isEqualTo(Trap.PF_USER | Trap.PF_INSTR | Trap.PF_PRESENT);

        // Present entries edited: the runner's MADV_INVAL makes the edits count.
        b.entry(VA, Level.PTE, 0x20_0000 | P | RW | US);
        MachineResult w2 = r.run(UserAccess.write(VA + 0x10));
        assertThat(w2.completed()).as("%s", w2).isTrue();
        assertThat(obj.segment().get(ValueLayout.JAVA_LONG, 0x20_0010)).isEqualTo(AccessRunner.WRITE_VALUE);
        assertThat(w2.entry(Level.PTE).value() & (A | D)).isEqualTo(A | D);
        MachineResult f2 = r.run(UserAccess.fetch(VA + 0x20));
        assertThat(f2.completed()).as("%s", f2).isTrue();
        assertThat(obj.segment().get(ValueLayout.JAVA_SHORT_UNALIGNED, 0x20_0020)).as("restored").isZero();

        MachineResult missing = r.run(UserAccess.read(5L << 39));
        assertThat(missing.faulted()).as("%s", missing).isTrue();
        assertThat(missing.errorCode()).isEqualTo(Trap.PF_USER);
        assertThat(missing.walk()).hasSize(1);

        // The runner's own code unmapped: an unexpected ending, never a "fault".
        long code = b.entry(AccessRunner.CODE_VA, Level.PTE);
        b.entry(AccessRunner.CODE_VA, Level.PTE, 0);
        // The runner invalidates only the accessed page: the removal needs its own MADV_INVAL
        // (under shadow paging the old translation would run on without it).
        vms.mcontrol(r.vmspace(), AccessRunner.CODE_VA, 4096, org.vmspace.api.Madvise.MADV_INVAL, 0);
        MachineResult broken = r.run(UserAccess.read(VA));
        assertThat(broken.unexpected()).as("%s", broken).isTrue();
        assertThat(broken.detail()).contains("runner's code page");
        b.entry(AccessRunner.CODE_VA, Level.PTE, code); // not present -> present: no MADV_INVAL needed
        assertThat(r.run(UserAccess.read(VA)).completed()).isTrue();

        assertThatThrownBy(() -> r.run(UserAccess.read(AccessRunner.CODE_VA))).hasMessageContaining("runner's code");
      }
    }
  }

  @Test
  void perAccessCost() {
    try (VmspaceService vms = Vmspaces.open(); MemoryObject obj = vms.createMemoryObject(8 << 20)) {
      PageTableBuilder b = PageTableBuilder.in(obj.segment(), 0, 1 << 20);
      b.map(VA, 0x20_0000, PageSize.SIZE_4K, P | US | RW);
      try (AccessRunner r = new AccessRunner(vms, obj, b)) {
        for (int i = 0; i < 50; i++) {
          r.run(UserAccess.read(VA));
        }
        long t0 = System.nanoTime();
        int n = 300;
        for (int i = 0; i < n; i++) {
          b.entry(VA, Level.PTE, 0x20_0000 | P | US | ((i & 1) == 0 ? RW : 0));
          r.run(UserAccess.write(VA));
        }
        long per = (System.nanoTime() - t0) / n;
        System.out.printf("per access (%s): %.3f ms%n", System.getProperty("vmspace.kvm.where"), per / 1e6);
        t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
          vms.mcontrol(r.vmspace(), VA, 4096, org.vmspace.api.Madvise.MADV_INVAL, 0);
        }
        System.out.printf("per MADV_INVAL: %.3f ms%n", (System.nanoTime() - t0) / n / 1e6);
        t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
          vms.run(r.vmspace(), new org.vmspace.api.TrapFrame().rip(AccessRunner.CODE_VA).rdi(VA).rflags(0x202),
              new org.vmspace.api.VextFrame());
        }
        System.out.printf("per bare run: %.3f ms%n", (System.nanoTime() - t0) / n / 1e6);
      }
    }
  }
}
