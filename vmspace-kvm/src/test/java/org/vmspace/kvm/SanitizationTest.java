package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmspace.kvm.testing.GuestFixture.at;
import static org.vmspace.kvm.testing.GuestFixture.sym;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.vmspace.api.RunResult;
import org.vmspace.api.Trap;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceId;
import org.vmspace.kvm.testing.GuestFixture;

/** The frame is sanitized by coercion on entry; non-canonical RIP or RSP never enters. */
@Tag("kvm")
class SanitizationTest {
  private final GuestFixture g = new GuestFixture();
  private final VextFrame x = new VextFrame();

  @AfterEach
  void close() {
    g.close();
  }

  @Test
  void ioplAndVmAreClearedIfAndBitOneForcedAndArithmeticFlagsKept() {
    VmspaceId id = g.space(1);
    long asked = 0x3000 /* IOPL 3 */ | 0x20000 /* VM */ | 0x80000 /* VIF */ | 0x100000 /* VIP */
        | 0x1 | 0x4 | 0x40 | 0x80 | 0x800 /* CF PF ZF SF OF */ | 0x40000 /* AC */;
    TrapFrame f = at("one_syscall").rflags(asked);
    assertThat(g.run(id, f, x)).isEqualTo(RunResult.SYSCALL);
    // The syscall frame's rflags is what the CPU had: the sanitized value.
    assertThat(f.rflags() & 0x3000).as("IOPL").isZero();
    assertThat(f.rflags() & 0x20000).as("VM").isZero();
    assertThat(f.rflags() & 0x180000).as("VIF VIP").isZero();
    assertThat(f.rflags() & 0x202).as("IF and bit 1").isEqualTo(0x202);
    assertThat(f.rflags() & 0x8C5).as("CF PF ZF SF OF").isEqualTo(0x8C5);
    assertThat(f.rflags() & 0x40000).as("AC").isEqualTo(0x40000);
  }

  @Test
  void codeAndStackSelectorsAreForcedToUser() {
    VmspaceId id = g.space(1);
    TrapFrame f = at("one_syscall").cs(0x10).ss(0x18);
    assertThat(g.run(id, f, x)).isEqualTo(RunResult.SYSCALL);
    assertThat(f.cs()).isEqualTo(0x33);
    assertThat(f.ss()).isEqualTo(0x2b);
    // It ran at CPL3: a privileged instruction still faults.
    TrapFrame h = at("do_hlt").cs(0x10).ss(0);
    assertThat(g.run(id, h, x)).isEqualTo(RunResult.TRAP);
    assertThat(h.trapno()).isEqualTo(Trap.T_PROTFLT);
  }

  @Test
  void nonCanonicalRipOrRspReturnsAProtectionFaultWithoutEntering() {
    VmspaceId id = g.space(1);
    for (long bad : new long[] {0x0000_8000_0000_0000L, 0xFFFF_7FFF_FFFF_FFFFL, 0x1234_5678_9ABC_DEF0L}) {
      TrapFrame f = at("one_syscall").rip(bad).rax(5).rbx(6);
      TrapFrame before = f.copy();
      assertThat(g.run(id, f, x)).isEqualTo(RunResult.TRAP);
      assertThat(f.trapno()).isEqualTo(Trap.T_PROTFLT);
      assertThat(f.err()).isZero();
      assertThat(f.rip()).isEqualTo(bad);
      assertThat(f.rax()).isEqualTo(5);
      assertThat(f.rbx()).isEqualTo(6);
      assertThat(f.copy().trapno(0)).isEqualTo(before.cs(0x33).ss(0x2b));

      TrapFrame s = at("one_syscall").rsp(bad);
      assertThat(g.run(id, s, x)).isEqualTo(RunResult.TRAP);
      assertThat(s.trapno()).isEqualTo(Trap.T_PROTFLT);
      assertThat(s.rip()).isEqualTo(sym("one_syscall"));
    }
  }

  @Test
  void kernelHalfAddressesAreCanonicalButUnreachable() {
    VmspaceId id = g.space(1);
    // The exception stubs' page: canonical, mapped, supervisor-only. Entering there at CPL3
    // is an instruction fetch fault, never kernel execution.
    long stub = 0xFFFF_FFFF_C000_2000L;
    TrapFrame f = at("one_syscall").rip(stub);
    assertThat(g.run(id, f, x)).isEqualTo(RunResult.PAGEFAULT);
    assertThat(f.err()).isEqualTo(Trap.PF_USER | Trap.PF_PRESENT | Trap.PF_INSTR);
    assertThat(f.addr()).isEqualTo(stub);
  }
}
