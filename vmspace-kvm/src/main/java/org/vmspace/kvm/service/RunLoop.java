package org.vmspace.kvm.service;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.vmspace.api.Errno;
import org.vmspace.api.RunResult;
import org.vmspace.api.Trap;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.kvm.flavour.ExecutionFlavour;
import org.vmspace.kvm.guest.GuestLayout;
import org.vmspace.kvm.ioctl.Kvm;
import org.vmspace.kvm.ioctl.KvmRegs;
import org.vmspace.kvm.ioctl.KvmRun;
import org.vmspace.kvm.ioctl.KvmSregs;
import org.vmspace.kvm.linux.Errnos;
import org.vmspace.kvm.paging.PageWalker;
import org.vmspace.kvm.paging.Pte;
import org.vmspace.kvm.vcpu.RunnerState;
import org.vmspace.kvm.vcpu.Vcpu;
import org.vmspace.kvm.vm.VmFailure;
import org.vmspace.kvm.vm.Vmspace;

/**
 * {@code ctl(RUN)}: sanitises the frame, loads it into a vCPU through {@code kvm_run}'s sync
 * registers (no register ioctls), runs until an exit the caller must see, resolves demand
 * faults on the way, and writes the guest's state back.
 *
 * <p>Exits are trusted only at the stubs' own RIPs and privilege levels (the flavour decides);
 * any other port I/O or MMIO is the guest's own and is reported as {@code #GP}, after KVM is made
 * to finish it with {@code immediate_exit} and zeroed data so that it can neither take effect nor
 * leak a previous exit's bytes.
 */
final class RunLoop {
  /**
   * The RFLAGS bits a guest may set: CF PF AF ZF SF TF DF OF NT RF AC ID. The contract writes
   * 0x274DD5 but says VM is cleared; bit 17 (VM) is therefore left out, and long mode could not
   * run it anyway.
   */
  static final long RFLAGS_USER_MASK = 0x254DD5L;
  /** IF and the always-one bit 1. */
  static final long RFLAGS_FORCED = 0x202L;
  /** How long a run waits for a vCPU when all are running. */
  private static final long VCPU_WAIT_NANOS = TimeUnit.SECONDS.toNanos(10);
  /** Consecutive identical faults reported resolved before giving up (a livelock guard). */
  private static final int MAX_REPEATED_FAULTS = 8;

  private final KvmContext ctx;
  private final ExecutionFlavour flavour;
  private final MemorySegment guest;

  RunLoop(KvmContext ctx) {
    this.ctx = ctx;
    this.flavour = ctx.flavour;
    this.guest = ctx.memory.host();
  }

  RunResult run(Vmspace vs, TrapFrame f, VextFrame x, Duration timeout) throws InterruptedException {
    f.cs(GuestLayout.USER_CS).ss(GuestLayout.USER_DS);
    f.rflags((f.rflags() & RFLAGS_USER_MASK) | RFLAGS_FORCED);
    if (!Pte.isCanonical(f.rip()) || !Pte.isCanonical(f.rsp())) {
      f.trapno(Trap.T_PROTFLT).err(0).addr(0);
      return RunResult.TRAP;
    }
    RunnerState runner = ctx.runners.current();
    Vcpu v = ctx.vcpus.acquire(runner, VCPU_WAIT_NANOS);
    if (v == null) {
      throw new VmFailure(Errno.EAGAIN, "every vCPU is running (maxVcpus " + ctx.options.maxVcpus() + ")");
    }
    long deadline = 0;
    try {
      ctx.fpu.switchTo(v, x);
      load(v, vs, f, x);
      runner.inRun(true);
      if (runner.takeInterrupt()) {
        f.trapno(0).err(0).addr(0);
        return RunResult.INTERRUPTED;
      }
      if (timeout != null) {
        long nanos = Math.max(1, timeout.toNanos());
        deadline = System.nanoTime() + nanos;
        v.armTimer(nanos);
      }
      return loop(v, vs, f, x, runner, deadline);
    } finally {
      runner.inRun(false);
      if (deadline != 0) {
        v.disarmTimer();
        // A timer that fired after the last exit must not stop the next run. (Interrupts are
        // not lost by this: the request flag, not the signal, says whether one is pending.)
        v.drainKicks();
      }
      ctx.vcpus.release(v);
    }
  }

  /** Writes the frame into the sync registers and whatever segment state differs. */
  private void load(Vcpu v, Vmspace vs, TrapFrame f, VextFrame x) {
    KvmRun run = v.kvmRun();
    run.reg(KvmRegs.RAX, f.rax());
    run.reg(KvmRegs.RBX, f.rbx());
    run.reg(KvmRegs.RCX, f.rcx());
    run.reg(KvmRegs.RDX, f.rdx());
    run.reg(KvmRegs.RSI, f.rsi());
    run.reg(KvmRegs.RDI, f.rdi());
    run.reg(KvmRegs.RSP, f.rsp());
    run.reg(KvmRegs.RBP, f.rbp());
    run.reg(KvmRegs.R8, f.r8());
    run.reg(KvmRegs.R9, f.r9());
    run.reg(KvmRegs.R10, f.r10());
    run.reg(KvmRegs.R11, f.r11());
    run.reg(KvmRegs.R12, f.r12());
    run.reg(KvmRegs.R13, f.r13());
    run.reg(KvmRegs.R14, f.r14());
    run.reg(KvmRegs.R15, f.r15());
    run.reg(KvmRegs.RIP, f.rip());
    run.reg(KvmRegs.RFLAGS, f.rflags());
    long dirty = Kvm.KVM_SYNC_X86_REGS;
    long cr3 = vs.cr3();
    if (v.loadedSpace() != vs || run.sreg(KvmSregs.CR3) != cr3) {
      run.sreg(KvmSregs.CR3, cr3);
      v.loadedSpace(vs);
      dirty |= Kvm.KVM_SYNC_X86_SREGS;
    }
    if (run.sreg(KvmSregs.FS + KvmSregs.SEG_BASE) != x.fsBase()) {
      run.sreg(KvmSregs.FS + KvmSregs.SEG_BASE, x.fsBase());
      dirty |= Kvm.KVM_SYNC_X86_SREGS;
    }
    if (run.sreg(KvmSregs.GS + KvmSregs.SEG_BASE) != x.gsBase()) {
      run.sreg(KvmSregs.GS + KvmSregs.SEG_BASE, x.gsBase());
      dirty |= Kvm.KVM_SYNC_X86_SREGS;
    }
    if (v.atCpl0()) {
      toUserSegments(run);
      v.atCpl0(false);
      dirty |= Kvm.KVM_SYNC_X86_SREGS;
    }
    // KVM clears the bits it applied; any left from a run that never entered still apply.
    run.dirtyRegs(run.dirtyRegs() | dirty);
  }

  private static void toUserSegments(KvmRun run) {
    MemorySegment s = run.segment();
    long b = KvmRun.SYNC_SREGS;
    KvmSregs.setSegment(s, b, KvmSregs.CS, 0, 0xFFFFFFFF, GuestLayout.USER_CS, 11, 3, true, true, false, true);
    KvmSregs.setSegment(s, b, KvmSregs.SS, 0, 0xFFFFFFFF, GuestLayout.USER_DS, 3, 3, true, false, true, true);
  }

  private RunResult loop(
      Vcpu v, Vmspace vs, TrapFrame f, VextFrame x, RunnerState runner, long deadline) {
    KvmRun run = v.kvmRun();
    RunResult pendingStop = null;
    long lastFaultVa = -1;
    int repeats = 0;
    while (true) {
      int rc = v.enter();
      if (rc < 0) {
        if (rc != -Errnos.EINTR) {
          v.markDead();
          throw new IllegalStateException("KVM_RUN failed: " + Errnos.name(-rc));
        }
        v.drainKicks();
        RunResult stop = stopReason(runner, deadline);
        if (stop == null) {
          continue;
        }
        if (cpl(run) != 3) {
          // Stopped inside an exception stub: let it exit, then stop after handling the exit.
          pendingStop = stop;
          continue;
        }
        captureUser(run, f, x);
        f.trapno(0).err(0).addr(0);
        return stop;
      }
      int reason = run.exitReason();
      if (reason == Kvm.KVM_EXIT_IO) {
        boolean out = run.ioDirection() == Kvm.KVM_EXIT_IO_OUT;
        int kind = flavour.classifyIoExit(run.ioPort(), out, run.reg(KvmRegs.RIP), cpl(run));
        if (kind == ExecutionFlavour.EXIT_SYSCALL) {
          captureSyscall(run, f, x);
          keepPendingInterrupt(runner, pendingStop);
          return RunResult.SYSCALL;
        }
        if (kind >= 0) {
          v.atCpl0(true);
          captureException(run, kind, f, x);
          boolean resolved = false;
          if (kind == 14) {
            long va = f.addr();
            repeats = va == lastFaultVa ? repeats + 1 : 0;
            lastFaultVa = va;
            resolved = repeats < MAX_REPEATED_FAULTS && resolveFault(vs, f);
          }
          if (resolved && pendingStop == null) {
            resume(run, f);
            v.atCpl0(false);
            continue;
          }
          if (resolved) {
            // Resolved, but a stop is pending: stop at the faulting instruction, which the next
            // run retries.
            f.trapno(0).err(0).addr(0);
            return pendingStop;
          }
          keepPendingInterrupt(runner, pendingStop);
          return RunResult.forTrap(f.trapno());
        }
        keepPendingInterrupt(runner, pendingStop);
        captureUser(run, f, x);
        f.rip(untrustedIoRip(vs, run, out));
        finishPendingIo(v, run);
        f.trapno(Trap.T_PROTFLT).err(0).addr(0);
        return RunResult.TRAP;
      }
      keepPendingInterrupt(runner, pendingStop);
      return unusualExit(v, vs, run, reason, f, x);
    }
  }

  /** An interrupt taken while the guest was in a stub and not yet reported stays pending. */
  private static void keepPendingInterrupt(RunnerState runner, RunResult pendingStop) {
    if (pendingStop == RunResult.INTERRUPTED) {
      runner.requestInterrupt();
    }
  }

  private static RunResult stopReason(RunnerState runner, long deadline) {
    if (runner.takeInterrupt()) {
      return RunResult.INTERRUPTED;
    }
    if (deadline != 0 && System.nanoTime() - deadline >= 0) {
      return RunResult.TIMEOUT;
    }
    return null;
  }

  private RunResult unusualExit(Vcpu v, Vmspace vs, KvmRun run, int reason, TrapFrame f, VextFrame x) {
    switch (reason) {
      case Kvm.KVM_EXIT_MMIO -> {
        // Only a guest's own page tables can point outside guest memory.
        captureUser(run, f, x);
        finishPendingIo(v, run);
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

  private static int cpl(KvmRun run) {
    return KvmSregs.selector(run.segment(), KvmRun.SYNC_SREGS, KvmSregs.CS) & 3;
  }

  // ---------------------------------------------------------------- exits into frames

  private static void captureGprs(KvmRun run, TrapFrame f) {
    f.rax(run.reg(KvmRegs.RAX));
    f.rbx(run.reg(KvmRegs.RBX));
    f.rcx(run.reg(KvmRegs.RCX));
    f.rdx(run.reg(KvmRegs.RDX));
    f.rsi(run.reg(KvmRegs.RSI));
    f.rdi(run.reg(KvmRegs.RDI));
    f.rbp(run.reg(KvmRegs.RBP));
    f.r8(run.reg(KvmRegs.R8));
    f.r9(run.reg(KvmRegs.R9));
    f.r10(run.reg(KvmRegs.R10));
    f.r11(run.reg(KvmRegs.R11));
    f.r12(run.reg(KvmRegs.R12));
    f.r13(run.reg(KvmRegs.R13));
    f.r14(run.reg(KvmRegs.R14));
    f.r15(run.reg(KvmRegs.R15));
  }

  private static void captureBases(KvmRun run, VextFrame x) {
    // The guest can change its own bases (wrfsbase works at CPL3 on some hosts).
    x.fsBase(run.sreg(KvmSregs.FS + KvmSregs.SEG_BASE));
    x.gsBase(run.sreg(KvmSregs.GS + KvmSregs.SEG_BASE));
  }

  /** The guest is at CPL3: its registers are the vCPU's. */
  private static void captureUser(KvmRun run, TrapFrame f, VextFrame x) {
    captureGprs(run, f);
    f.rsp(run.reg(KvmRegs.RSP));
    f.rip(run.reg(KvmRegs.RIP));
    f.rflags(run.reg(KvmRegs.RFLAGS));
    f.cs(GuestLayout.USER_CS).ss(GuestLayout.USER_DS);
    captureBases(run, x);
  }

  /** DragonFly's syscall frame: tf_rcx holds r10, rip and rflags come from rcx and r11. */
  private static void captureSyscall(KvmRun run, TrapFrame f, VextFrame x) {
    captureGprs(run, f);
    f.rcx(run.reg(KvmRegs.R10));
    f.rip(run.reg(KvmRegs.RCX));
    f.rflags(run.reg(KvmRegs.R11));
    f.rsp(run.reg(KvmRegs.RSP));
    f.cs(GuestLayout.USER_CS).ss(GuestLayout.USER_DS);
    f.trapno(Trap.T_FAST_SYSCALL).err(Trap.SYSCALL_INSN_LENGTH).addr(0);
    captureBases(run, x);
  }

  /** The exception stub's frame: the CPU pushed [err] rip cs rflags rsp ss on the kernel stack. */
  private void captureException(KvmRun run, int vector, TrapFrame f, VextFrame x) {
    captureGprs(run, f);
    long sp = run.reg(KvmRegs.RSP) - GuestLayout.KERNEL_BASE;
    long err = 0;
    if (Trap.vectorHasErrorCode(vector)) {
      err = guest.get(ValueLayout.JAVA_LONG, sp);
      sp += 8;
    }
    long frameCs = guest.get(ValueLayout.JAVA_LONG, sp + 8);
    if ((frameCs & 3) != 3) {
      throw new IllegalStateException(
          "exception " + vector + " taken at CPL0 at rip 0x"
              + Long.toHexString(guest.get(ValueLayout.JAVA_LONG, sp)));
    }
    f.rip(guest.get(ValueLayout.JAVA_LONG, sp));
    f.rflags(guest.get(ValueLayout.JAVA_LONG, sp + 16));
    f.rsp(guest.get(ValueLayout.JAVA_LONG, sp + 24));
    f.cs(GuestLayout.USER_CS).ss(GuestLayout.USER_DS);
    f.trapno(Trap.forVector(vector)).err(err);
    f.addr(vector == 14 ? run.sreg(KvmSregs.CR2) : 0);
    captureBases(run, x);
  }

  private static boolean resolveFault(Vmspace vs, TrapFrame f) {
    long err = f.err();
    if ((err & Trap.PF_USER) == 0 || (err & Trap.PF_RSVD) != 0) {
      return false;
    }
    PageWalker.Access access =
        (err & Trap.PF_INSTR) != 0
            ? PageWalker.Access.EXECUTE
            : (err & Trap.PF_WRITE) != 0 ? PageWalker.Access.WRITE : PageWalker.Access.READ;
    return vs.resolve(f.addr(), access) == Vmspace.Fault.RESOLVED;
  }

  /** Re-enters user mode at the faulting instruction with the state the frame holds. */
  private static void resume(KvmRun run, TrapFrame f) {
    run.reg(KvmRegs.RIP, f.rip());
    run.reg(KvmRegs.RSP, f.rsp());
    run.reg(KvmRegs.RFLAGS, f.rflags());
    toUserSegments(run);
    run.dirtyRegs(Kvm.KVM_SYNC_X86_REGS | Kvm.KVM_SYNC_X86_SREGS);
  }

  /**
   * Lets KVM finish an I/O or MMIO exit without running guest code ({@code immediate_exit}),
   * with zeroed data, so the instruction can neither complete later (it would overwrite the
   * registers of the next run) nor read bytes an earlier exit left.
   */
  private static void finishPendingIo(Vcpu v, KvmRun run) {
    MemorySegment s = run.segment();
    if (run.exitReason() == Kvm.KVM_EXIT_IO) {
      long offset = s.get(ValueLayout.JAVA_LONG, KvmRun.IO_DATA_OFFSET);
      long bytes = (long) run.ioSize() * run.ioCount();
      if (offset > 0 && bytes > 0 && offset + bytes <= s.byteSize()) {
        s.asSlice(offset, bytes).fill((byte) 0);
      }
    } else {
      s.asSlice(KvmRun.MMIO_PHYS_ADDR + 8, 8).fill((byte) 0);
    }
    run.dirtyRegs(0);
    run.immediateExit(true);
    try {
      int rc = v.enter();
      if (rc != -Errnos.EINTR && rc != 0) {
        v.markDead();
      }
    } finally {
      run.immediateExit(false);
    }
  }

  /** The address of a guest's own IN/OUT instruction, for the #GP it is reported as. */
  private long untrustedIoRip(Vmspace vs, KvmRun run, boolean out) {
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

  private int codeByte(Vmspace vs, long va) {
    PageWalker.Translation t = vs.tables().lookup(va);
    if (!t.isPresent()) {
      return -1;
    }
    return Byte.toUnsignedInt(guest.get(ValueLayout.JAVA_BYTE, t.physical(va)));
  }
}
