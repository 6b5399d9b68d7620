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

/** The syscall round trip: exact frames, DragonFly's argument convention, return values. */
@Tag("kvm")
class SyscallTest {
  private final GuestFixture g = new GuestFixture();

  @AfterEach
  void close() {
    g.close();
  }

  @Test
  void aLoopOfSyscallsReportsEachWithItsArgumentsAndSeesTheReturnValue() {
    VmspaceId id = g.space(1);
    TrapFrame f =
        at("syscall_loop").rax(1000).rdx(0x3333).r10(0x4444).r8(0x5555).r9(0x6666)
            .rbx(0x7777).rbp(0x8888).r13(0xD).r14(0xE).r15(0xF).rflags(0x202 | 0x1 | 0x80);
    VextFrame x = new VextFrame();
    int n = 2000;
    for (int i = 1; i <= n; i++) {
      RunResult r = g.run(id, f, x);
      assertThat(r).as("run %d", i).isEqualTo(RunResult.SYSCALL);
      assertThat(f.trapno()).isEqualTo(Trap.T_FAST_SYSCALL);
      assertThat(f.err()).isEqualTo(2);
      assertThat(f.addr()).isZero();
      assertThat(f.rax()).as("syscall number").isEqualTo(42);
      assertThat(f.rdi()).as("the return value of the previous call").isEqualTo(1000L + i - 1);
      assertThat(f.rsi()).as("iteration").isEqualTo(i);
      assertThat(f.rdx()).isEqualTo(0x3333);
      assertThat(f.rcx()).as("tf_rcx holds the guest's r10").isEqualTo(0x4444);
      assertThat(f.r10()).isEqualTo(0x4444);
      assertThat(f.r8()).isEqualTo(0x5555);
      assertThat(f.r9()).isEqualTo(0x6666);
      assertThat(f.rbx()).isEqualTo(0x7777);
      assertThat(f.rbp()).isEqualTo(0x8888);
      assertThat(f.r12()).isEqualTo(i);
      assertThat(f.r13()).isEqualTo(0xD);
      assertThat(f.r14()).isEqualTo(0xE);
      assertThat(f.r15()).isEqualTo(0xF);
      // mov %rax,%rdi (3) + mov $42,%eax (5) + inc %r12 (3) + mov %r12,%rsi (3) + syscall (2)
      assertThat(f.rip()).as("rip after the syscall").isEqualTo(sym("syscall_loop") + 16);
      assertThat(f.rsp()).isEqualTo(GuestFixture.STACK_TOP);
      assertThat(f.cs()).isEqualTo(0x33);
      assertThat(f.ss()).isEqualTo(0x2b);
      // inc %r12 leaves CF alone and sets the others from the result: SF=ZF=0, PF of r12.
      assertThat(f.rflags() & 0x1).as("CF kept across the loop").isEqualTo(1);
      assertThat(f.rflags() & 0x202).isEqualTo(0x202);
      assertThat(f.r11()).as("r11 holds rflags, as after a real syscall").isEqualTo(f.rflags());
      f.rax(1000L + i); // the return value
    }
  }

  @Test
  void rflagsOfTheSyscallAreTheGuestsIncludingTheTrapFlag() {
    VmspaceId id = g.space(1);
    TrapFrame f = at("one_syscall").rflags(0x202 | 0x400 | 0x800); // DF and OF
    g.run(id, f, new VextFrame());
    assertThat(f.trapno()).isEqualTo(Trap.T_FAST_SYSCALL);
    assertThat(f.rflags() & 0xC00).isEqualTo(0xC00);
    assertThat(f.rip()).isEqualTo(sym("one_syscall") + 2);
  }
}
