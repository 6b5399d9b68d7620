package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.vmspace.api.MapFlags;
import org.vmspace.api.Prot;
import org.vmspace.api.RunResult;
import org.vmspace.api.Trap;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceService;
import org.vmspace.kvm.testing.GuestProgram;
import org.vmspace.kvm.testing.KvmTests;

class SmokeTest {
  @Test
  void syscallRoundTrip() {
    GuestProgram p = GuestProgram.load("guests");
    try (VmspaceService vms = KvmTests.open()) {
      VmspaceId id = VmspaceId.of(1);
      vms.create(id);
      p.loadInto(vms, id);
      vms.mmap(id, 0x7000_0000L, 0x10000, Prot.PROT_READ | Prot.PROT_WRITE,
          MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON | MapFlags.MAP_FIXED, null, 0);
      TrapFrame f = new TrapFrame().rip(p.symbol("syscall_loop")).rsp(0x7001_0000L).rax(7);
      VextFrame x = new VextFrame();
      RunResult r = vms.run(id, f, x);
      System.out.println(r + " " + f);
      assertThat(r).isEqualTo(RunResult.SYSCALL);
      assertThat(f.trapno()).isEqualTo(Trap.T_FAST_SYSCALL);
      assertThat(f.rdi()).isEqualTo(7);
      f.rax(99);
      r = vms.run(id, f, x);
      System.out.println(r + " " + f);
      assertThat(f.rdi()).isEqualTo(99);
    }
  }
}
