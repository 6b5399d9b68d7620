package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmspace.kvm.testing.GuestFixture.STACK_TOP;
import static org.vmspace.kvm.testing.GuestFixture.at;
import static org.vmspace.kvm.testing.GuestFixture.sym;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.vmspace.api.Madvise;
import org.vmspace.api.Prot;
import org.vmspace.api.RunResult;
import org.vmspace.api.Trap;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceId;
import org.vmspace.kvm.testing.GuestFixture;

/**
 * Every exception row of the contract's table comes back with exact trapno, err, addr, rip, rsp
 * and rflags. Faults push RFLAGS with RF (0x10000) set, as the CPU does; traps do not.
 */
@Tag("kvm")
class ExceptionTest {
  private static final long RF = 0x10000;
  private static final long FLAGS = 0x202;
  private static final long RW_PAGE = 0x5000_0000L;
  private static final long RO_PAGE = 0x5000_1000L;
  private static final long NX_PAGE = 0x5000_2000L;
  private static final long HOLE = 0x5000_3000L;
  /** The IDT's page: present in every address space, supervisor-only. */
  private static final long SUPERVISOR = 0xFFFF_FFFF_C000_1000L;

  private final GuestFixture g = new GuestFixture();
  private VmspaceId id;
  private final VextFrame x = new VextFrame();

  @BeforeEach
  void setUp() {
    id = g.space(1);
    g.anon(id, RW_PAGE, 4096, Prot.PROT_READ | Prot.PROT_WRITE);
    g.anon(id, RO_PAGE, 4096, Prot.PROT_READ);
    g.anon(id, NX_PAGE, 4096, Prot.PROT_READ | Prot.PROT_WRITE);
  }

  @AfterEach
  void close() {
    g.close();
  }

  private TrapFrame expectTrap(TrapFrame f, RunResult result, int trapno, long err, long addr, long rip) {
    long rsp = f.rsp();
    assertThat(g.run(id, f, x)).as("%s", f).isEqualTo(result);
    assertThat(f.trapno()).as("trapno in %s", f).isEqualTo(trapno);
    assertThat(f.err()).as("err in %s", f).isEqualTo(err);
    assertThat(f.addr()).as("addr in %s", f).isEqualTo(addr);
    assertThat(f.rip()).as("rip in %s", f).isEqualTo(rip);
    assertThat(f.rsp()).as("rsp in %s", f).isEqualTo(rsp);
    assertThat(f.cs()).isEqualTo(0x33);
    assertThat(f.ss()).isEqualTo(0x2b);
    return f;
  }

  @Test
  void invalidOpcode() {
    TrapFrame f = expectTrap(at("do_ud2"), RunResult.TRAP, Trap.T_PRIVINFLT, 0, 0, sym("do_ud2"));
    assertThat(f.rflags()).isEqualTo(FLAGS | RF);
  }

  @Test
  void breakpointIsATrapAfterTheInstruction() {
    TrapFrame f = expectTrap(at("do_int3"), RunResult.TRAP, Trap.T_BPTFLT, 0, 0, sym("do_int3") + 1);
    assertThat(f.rflags()).isEqualTo(FLAGS);
  }

  @Test
  void hltIsAGeneralProtectionFault() {
    TrapFrame f = expectTrap(at("do_hlt"), RunResult.TRAP, Trap.T_PROTFLT, 0, 0, sym("do_hlt"));
    assertThat(f.rflags()).isEqualTo(FLAGS | RF);
  }

  @Test
  void outToAnotherPortIsAGeneralProtectionFault() {
    expectTrap(at("do_out_dx"), RunResult.TRAP, Trap.T_PROTFLT, 0, 0, sym("do_out_dx_insn"));
  }

  @Test
  void outToTheStubsOwnPortFromUserCodeIsAGeneralProtectionFaultNotASyscall() {
    TrapFrame f = at("do_out_imm").rax(42);
    expectTrap(f, RunResult.TRAP, Trap.T_PROTFLT, 0, 0, sym("do_out_imm"));
    assertThat(f.rax()).isEqualTo(42);
  }

  @Test
  void inFromTheStubsPortIsAGeneralProtectionFaultAndLeavesNothingPending() {
    TrapFrame f = at("do_in_dx").rax(0x1234);
    expectTrap(f, RunResult.TRAP, Trap.T_PROTFLT, 0, 0, sym("do_in_dx_insn"));
    assertThat(f.rax()).isEqualTo(0x1234);
    // The same vCPU runs on: the abandoned IN must not complete into the next run's state.
    TrapFrame next = at("syscall_loop").rax(777);
    assertThat(g.run(id, next, x)).isEqualTo(RunResult.SYSCALL);
    assertThat(next.rdi()).isEqualTo(777);
    assertThat(next.rip()).isEqualTo(sym("syscall_loop") + 16);
    // And resuming at the IN faults again rather than completing it.
    TrapFrame again = at("do_in_dx_insn").rax(0x55).rdx(0x10);
    expectTrap(again, RunResult.TRAP, Trap.T_PROTFLT, 0, 0, sym("do_in_dx_insn"));
    assertThat(again.rax()).isEqualTo(0x55);
  }

  @Test
  void pageFaultOnAnUnmappedAddress() {
    TrapFrame f = at("do_read").rbx(HOLE + 0x10);
    expectTrap(f, RunResult.PAGEFAULT, Trap.T_PAGEFLT, Trap.PF_USER, HOLE + 0x10, sym("do_read"));
    assertThat(f.rflags()).isEqualTo(FLAGS | RF);
  }

  @Test
  void pageFaultOnAWriteToAReadOnlyPage() {
    // Untouched: the page is not present yet, and the mapping forbids the write.
    TrapFrame f = at("do_write").rbx(RO_PAGE + 0x20).rax(1);
    expectTrap(f, RunResult.PAGEFAULT, Trap.T_PAGEFLT, Trap.PF_USER | Trap.PF_WRITE, RO_PAGE + 0x20,
        sym("do_write"));
    // After a read maps it, the same write faults on a present page.
    TrapFrame read = at("do_read").rbx(RO_PAGE + 0x20);
    assertThat(g.run(id, read, x)).isEqualTo(RunResult.SYSCALL);
    TrapFrame again = at("do_write").rbx(RO_PAGE + 0x20).rax(1);
    expectTrap(again, RunResult.PAGEFAULT, Trap.T_PAGEFLT,
        Trap.PF_USER | Trap.PF_WRITE | Trap.PF_PRESENT, RO_PAGE + 0x20, sym("do_write"));
  }

  @Test
  void pageFaultOnAUserAccessToASupervisorPage() {
    TrapFrame f = at("do_read").rbx(SUPERVISOR + 8);
    expectTrap(f, RunResult.PAGEFAULT, Trap.T_PAGEFLT, Trap.PF_USER | Trap.PF_PRESENT,
        SUPERVISOR + 8, sym("do_read"));
  }

  @Test
  void pageFaultOnAFetchFromANoExecutePage() {
    g.vms.mcontrol(id, NX_PAGE, 4096, Madvise.MADV_WILLNEED, 0);
    TrapFrame f = at("do_call").rbx(NX_PAGE);
    long rsp = f.rsp();
    assertThat(g.run(id, f, x)).isEqualTo(RunResult.PAGEFAULT);
    assertThat(f.trapno()).isEqualTo(Trap.T_PAGEFLT);
    assertThat(f.err()).isEqualTo(Trap.PF_USER | Trap.PF_PRESENT | Trap.PF_INSTR);
    assertThat(f.addr()).isEqualTo(NX_PAGE);
    assertThat(f.rip()).isEqualTo(NX_PAGE);
    assertThat(f.rsp()).as("the call pushed its return address").isEqualTo(rsp - 8);
    assertThat(g.peek(id, rsp - 8)).isEqualTo(sym("do_call") + 2);
  }

  @Test
  void divideError() {
    TrapFrame f = at("do_div0").rax(10).rdx(0);
    expectTrap(f, RunResult.TRAP, Trap.T_DIVIDE, 0, 0, sym("do_div0") + 2);
    assertThat(f.rflags() & ~0x8D5L).as("only arithmetic flags may differ").isEqualTo(FLAGS | RF);
  }

  @Test
  void singleStepWithTheTrapFlag() {
    TrapFrame f = at("do_steps").rflags(FLAGS | 0x100);
    expectTrap(f, RunResult.TRAP, Trap.T_TRCTRAP, 0, 0, sym("do_steps_2"));
    assertThat(f.rflags() & 0x100).as("TF is still set").isEqualTo(0x100);
    expectTrap(f, RunResult.TRAP, Trap.T_TRCTRAP, 0, 0, sym("do_steps_3"));
    f.rflags(f.rflags() & ~0x100L);
    expectTrap(f, RunResult.TRAP, Trap.T_PRIVINFLT, 0, 0, sym("do_steps_3") + 1);
  }

  @Test
  void farJumpToThirtyTwoBitCodeIsRefused() {
    // A far pointer to selector 0x23: no 32-bit user code segment exists, so the guest cannot
    // switch to compatibility mode. Hardware raises #GP(0x20); this host's emulator #UD.
    g.poke(id, RW_PAGE, 0x0023_0040_0000L);
    TrapFrame f = at("do_ljmp").rbx(RW_PAGE);
    assertThat(g.run(id, f, x)).isEqualTo(RunResult.TRAP);
    assertThat(f.trapno()).isIn((long) Trap.T_PROTFLT, (long) Trap.T_PRIVINFLT);
    assertThat(f.rip()).isEqualTo(sym("do_ljmp"));
    assertThat(f.cs()).isEqualTo(0x33);
    TrapFrame after = at("one_syscall");
    assertThat(g.run(id, after, x)).isEqualTo(RunResult.SYSCALL);
  }

  @Test
  void resumingAfterATrapContinuesAtTheFramesRip() {
    TrapFrame f = at("do_int3");
    assertThat(g.run(id, f, x)).isEqualTo(RunResult.TRAP);
    assertThat(f.rip()).isEqualTo(sym("do_int3") + 1);
    assertThat(g.run(id, f, x)).isEqualTo(RunResult.TRAP);
    assertThat(f.trapno()).isEqualTo(Trap.T_PRIVINFLT); // the ud2 after the int3
    f.rip(sym("one_syscall"));
    assertThat(g.run(id, f, x)).isEqualTo(RunResult.SYSCALL);
    assertThat(f.rsp()).isEqualTo(STACK_TOP);
  }
}
