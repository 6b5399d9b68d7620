package org.vmspace.kvm.service;

import org.vmspace.api.RunResult;
import org.vmspace.api.Trap;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.kvm.flavour.ExecutionFlavour;
import org.vmspace.kvm.ioctl.Kvm;
import org.vmspace.kvm.ioctl.KvmRegs;
import org.vmspace.kvm.ioctl.KvmRun;
import org.vmspace.kvm.paging.Access;
import org.vmspace.kvm.vcpu.RunnerState;
import org.vmspace.kvm.vcpu.Vcpu;
import org.vmspace.kvm.vm.ExitCounters;
import org.vmspace.kvm.vm.Vmspace;

/**
 * Classifies each return of {@code KVM_RUN} in one {@code ctl(RUN)} and acts on it: a system
 * call or an exception from the stubs becomes the caller's frame, a demand fault is resolved and
 * the guest resumed, a stop (interrupt or timeout) is reported at CPL3, anything else the guest
 * did is reported as a trap. One instance per thread that runs, reused run after run (the hot
 * path allocates nothing, issue 17): {@link #begin} binds it to a run, {@link #end} lets go of
 * that run's vCPU, vmspace and frames; between the two it holds the run's state between exits.
 *
 * <p>Guarantees: every exit is counted exactly once (and recorded as a JFR event when those are
 * on); a method that returns {@code null} means "enter the guest again", any other value is the
 * run's result with the frame already written; an interrupt taken while the guest was in a stub
 * is either reported or left pending for the next run, never lost; an exit is trusted as a
 * system call or exception only where the flavour says the stubs make it.
 */
final class ExitDispatch {
  /** Consecutive identical faults reported resolved before giving up (a livelock guard). */
  private static final int MAX_REPEATED_FAULTS = 8;

  private final ExecutionFlavour flavour;
  // The run's: set by begin, cleared by end.
  private Vcpu v;
  private KvmRun run;
  private Domain domain;
  private Vmspace vs;
  private TrapFrame f;
  private VextFrame x;
  private RunnerState runner;
  private ExitCounters counters;

  /** A stop that came while the guest was inside an exception stub: reported after its exit. */
  private RunResult pendingStop;
  private long lastFaultVa;
  private int repeats;
  /** The exit being handled: its JFR event (null while those are off) and time in guest mode. */
  private ExitEvent event;
  private long guestNanos;

  ExitDispatch(ExecutionFlavour flavour) {
    this.flavour = flavour;
  }

  /** Binds this dispatcher to a run, with a fresh run's state (nothing pending, no fault seen). */
  void begin(Vcpu v, Domain domain, Vmspace vs, TrapFrame f, VextFrame x, RunnerState runner) {
    this.v = v;
    this.run = v.kvmRun();
    this.domain = domain;
    this.vs = vs;
    this.f = f;
    this.x = x;
    this.runner = runner;
    this.counters = vs.counters();
    this.pendingStop = null;
    this.lastFaultVa = -1;
    this.repeats = 0;
    this.event = null;
    this.guestNanos = 0;
  }

  /**
   * Ends the run: forgets its vCPU, vmspace and frames, so that an idle thread's dispatcher keeps
   * no destroyed vmspace or closed vCPU reachable.
   */
  void end() {
    v = null;
    run = null;
    domain = null;
    vs = null;
    f = null;
    x = null;
    runner = null;
    counters = null;
    pendingStop = null;
    event = null;
  }

  /** The guest left guest mode after {@code nanos}; {@code event} is the exit's JFR event or null. */
  void exited(ExitEvent event, long nanos) {
    this.event = event;
    this.guestNanos = nanos;
  }

  /** Counts the current exit, and records it as a JFR event when those are on. */
  void count(int kind, int reason) {
    counters.exit(kind, reason, guestNanos);
    if (event != null) {
      event.vmspace = vs.id();
      event.kind = ExitCounters.kindName(kind);
      event.reason = reason == ExitCounters.RUN_EFAULT ? "EFAULT" : Kvm.exitName(reason);
      event.commit();
    }
  }

  // ---------------------------------------------------------------- kicks

  /** A kick with nothing to stop for (a stale timer or interrupt signal): enter again. */
  RunResult kicked() {
    count(ExitCounters.OTHER, Kvm.KVM_EXIT_INTR);
    return null;
  }

  /**
   * A kick that stops the run: reported now in user code, or after the stub the guest is in
   * exits. A stub is told by CPL0 or, as the PVM flavour runs the syscall trampoline at CPL3
   * (its CS stays 0x33), by a RIP in the upper half, where no user code can run: a frame
   * captured there would hand the caller the trampoline's address as the guest's RIP.
   */
  RunResult stop(RunResult stop) {
    if (FrameRegisters.cpl(run) != 3 || run.reg(KvmRegs.RIP) < 0) {
      // Stopped inside an exception stub: let it exit, then stop after handling the exit.
      count(ExitCounters.OTHER, Kvm.KVM_EXIT_INTR);
      pendingStop = stop;
      return null;
    }
    count(ExitCounters.INTERRUPT, Kvm.KVM_EXIT_INTR);
    FrameRegisters.captureUser(v, f, x);
    f.trapno(0).err(0).addr(0);
    return stop;
  }

  /** An interrupt taken while the guest was in a stub and not yet reported stays pending. */
  private void keepPendingInterrupt() {
    if (pendingStop == RunResult.INTERRUPTED) {
      runner.requestInterrupt();
    }
  }

  // ---------------------------------------------------------------- exits

  /** A KVM exit (not a kick): port I/O from the stubs or the guest, or an unusual exit. */
  RunResult exit() {
    int reason = run.exitReason();
    if (reason == Kvm.KVM_EXIT_IO) {
      boolean out = run.ioDirection() == Kvm.KVM_EXIT_IO_OUT;
      int kind = flavour.classifyIoExit(run.ioPort(), out, run.reg(KvmRegs.RIP), FrameRegisters.cpl(run));
      if (kind == ExecutionFlavour.EXIT_SYSCALL) {
        return syscall(reason);
      }
      if (kind >= 0) {
        return exception(reason, kind);
      }
      return untrustedIo(reason, out);
    }
    // MMIO, a triple fault, an internal error: a trap for the caller; anything else fails.
    boolean trap = reason == Kvm.KVM_EXIT_MMIO || reason == Kvm.KVM_EXIT_SHUTDOWN
        || reason == Kvm.KVM_EXIT_INTERNAL_ERROR;
    count(trap ? ExitCounters.TRAP : ExitCounters.OTHER, reason);
    keepPendingInterrupt();
    return unusualExit(reason);
  }

  /** The syscall stub's exit: the guest's system call, in DragonFly's syscall frame. */
  private RunResult syscall(int reason) {
    v.stubOutRip = run.reg(KvmRegs.RIP);
    if (flavour.syscallExitsAtCpl0()) {
      v.atCpl0(true);
    }
    count(ExitCounters.SYSCALL, reason);
    FrameRegisters.captureSyscall(v, f, x);
    keepPendingInterrupt();
    return RunResult.SYSCALL;
  }

  /**
   * An exception stub's exit for {@code vector}: a page fault the vmspace resolves is resumed
   * (or, with a stop pending, stopped at the faulting instruction); anything else is the caller's.
   */
  private RunResult exception(int reason, int vector) {
    v.stubOutRip = run.reg(KvmRegs.RIP);
    v.atCpl0(true);
    FrameRegisters.captureException(v, domain.system.host(), vector, f, x);
    boolean resolved = vector == 14 && demandFault();
    count(resolved ? ExitCounters.DEMAND_FAULT : vector == 14 ? ExitCounters.PAGE_FAULT : ExitCounters.TRAP,
        reason);
    if (resolved && pendingStop == null) {
      FrameRegisters.resume(v, f);
      v.atCpl0(false);
      return null;
    }
    if (resolved) {
      // Resolved, but a stop is pending: stop at the faulting instruction, which the next
      // run retries.
      f.trapno(0).err(0).addr(0);
      return pendingStop;
    }
    keepPendingInterrupt();
    return RunResult.forTrap(f.trapno());
  }

  /** Resolves the page fault in the frame, unless the same address keeps faulting. */
  private boolean demandFault() {
    long va = f.addr();
    repeats = va == lastFaultVa ? repeats + 1 : 0;
    lastFaultVa = va;
    return repeats < MAX_REPEATED_FAULTS && resolveFault(vs, f);
  }

  private static boolean resolveFault(Vmspace vs, TrapFrame f) {
    long err = f.err();
    if ((err & Trap.PF_USER) == 0 || (err & Trap.PF_RSVD) != 0) {
      return false;
    }
    Access access =
        (err & Trap.PF_INSTR) != 0
            ? Access.EXECUTE
            : (err & Trap.PF_WRITE) != 0 ? Access.WRITE : Access.READ;
    return vs.resolve(f.addr(), access) == Vmspace.Fault.RESOLVED;
  }

  /** The guest's own IN or OUT: a #GP at that instruction, which never takes effect. */
  private RunResult untrustedIo(int reason, boolean out) {
    count(ExitCounters.TRAP, reason);
    keepPendingInterrupt();
    FrameRegisters.captureUser(v, f, x);
    f.rip(untrustedIoRip(out));
    ImmediateExit.finishPendingIo(v, run);
    f.trapno(Trap.T_PROTFLT).err(0).addr(0);
    return RunResult.TRAP;
  }

  private RunResult unusualExit(int reason) {
    switch (reason) {
      case Kvm.KVM_EXIT_MMIO -> {
        // Only a guest's own page tables can point outside guest memory.
        FrameRegisters.captureUser(v, f, x);
        ImmediateExit.finishPendingIo(v, run);
        f.trapno(Trap.T_PROTFLT).err(0).addr(0);
        return RunResult.TRAP;
      }
      case Kvm.KVM_EXIT_SHUTDOWN -> {
        // A triple fault: the stubs could not take an exception. The vCPU is discarded.
        v.markDead();
        f.trapno(Trap.T_DOUBLEFLT).err(0).addr(0);
        return RunResult.TRAP;
      }
      case Kvm.KVM_EXIT_INTERNAL_ERROR -> {
        v.markDead();
        f.trapno(Trap.T_PROTFLT).err(0).addr(0);
        return RunResult.TRAP;
      }
      default -> {
        v.markDead();
        throw new IllegalStateException(
            "unexpected KVM exit " + Kvm.exitName(reason) + " at rip 0x"
                + Long.toHexString(run.reg(KvmRegs.RIP)) + " in " + vs);
      }
    }
  }

  /** The address of a guest's own IN/OUT instruction, for the #GP it is reported as. */
  private long untrustedIoRip(boolean out) {
    long rip = run.reg(KvmRegs.RIP);
    if (!out || !flavour.reportsRipAfterOut()) {
      return rip;
    }
    int b1 = codeByte(vs, rip - 1);
    int b2 = codeByte(vs, rip - 2);
    int port = run.ioPort();
    int start;
    if ((b2 == 0xE6 || b2 == 0xE7) && b1 == (port & 0xFF) && port <= 0xFF) {
      start = 2; // out %al/%eax, $imm8
    } else if (b1 == 0xEE || b1 == 0xEF || b1 == 0x6E || b1 == 0x6F) {
      start = 1; // out %al/%eax, %dx, or outs
    } else {
      return rip;
    }
    // Operand-size, rep and segment prefixes.
    for (int k = start + 1; k <= 15; k++) {
      int p = codeByte(vs, rip - k);
      if (p == 0x66 || p == 0xF3 || p == 0xF2 || p == 0x2E || p == 0x3E || p == 0x26
          || p == 0x36 || p == 0x64 || p == 0x65 || (p >= 0x40 && p <= 0x4F)) {
        start = k;
      } else {
        break;
      }
    }
    return rip - start;
  }

  private static int codeByte(Vmspace vs, long va) {
    return vs.readUserByte(va);
  }
}
