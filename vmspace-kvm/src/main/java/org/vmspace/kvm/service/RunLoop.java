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
import org.vmspace.kvm.paging.Access;
import org.vmspace.kvm.paging.Pte;
import org.vmspace.kvm.vcpu.RunnerState;
import org.vmspace.kvm.vcpu.Vcpu;
import org.vmspace.kvm.vm.ExitCounters;
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
  /**
   * The longest timeout that arms a timer: 2^62 ns, about 146 years. A longer one cannot expire
   * while the process lives, so it is no limit; arming it would overflow the nanosecond
   * deadline ({@code Duration.ofSeconds(Long.MAX_VALUE).toNanos()} throws ArithmeticException).
   */
  static final Duration LONGEST_TIMEOUT = Duration.ofNanos(1L << 62);
  /** Consecutive identical faults reported resolved before giving up (a livelock guard). */
  private static final int MAX_REPEATED_FAULTS = 8;

  /** CR3's page-level write-through bit: toggled to make KVM flush a vCPU's TLB at entry. */
  private static final long CR3_PWT = 0x8;

  private final KvmContext ctx;
  private final ExecutionFlavour flavour;
  private final boolean shootdowns;

  RunLoop(KvmContext ctx) {
    this.ctx = ctx;
    this.flavour = ctx.flavour;
    this.shootdowns = flavour.needsTlbShootdown();
  }

  RunResult run(Vmspace vs, TrapFrame f, VextFrame x, Duration timeout) throws InterruptedException {
    f.cs(GuestLayout.USER_CS).ss(GuestLayout.USER_DS);
    f.rflags((f.rflags() & RFLAGS_USER_MASK) | RFLAGS_FORCED);
    if (!Pte.isCanonical(f.rip()) || !Pte.isCanonical(f.rsp())) {
      f.trapno(Trap.T_PROTFLT).err(0).addr(0);
      return RunResult.TRAP;
    }
    RunnerState runner = ctx.runners.current();
    // An address space on its caller's tables runs in its memory object's VM.
    Vmspace.Vpage vpage = vs.vpage();
    Domain domain = vpage == null ? ctx.main : (Domain) vpage.domain();
    Vcpu v = domain.vcpus.acquire(runner, VCPU_WAIT_NANOS);
    if (v == null) {
      throw new VmFailure(Errno.EAGAIN, "every vCPU is running (maxVcpus " + ctx.options.maxVcpus() + ")");
    }
    long deadline = 0;
    Thread self = runner.thread();
    long start = System.nanoTime();
    try {
      ctx.fpu.switchTo(v, x);
      // From the snapshot: a MADV_SETMAP meanwhile must not put the caller's root in this VM.
      load(v, vs, vpage == null ? vs.tables().root() : vpage.cr3(), f, x);
      runner.inRun(true);
      if (vpage != null) {
        vs.enterVpageRun(self);
        if (vs.vpage() != vpage) {
          // The tables were revoked meanwhile: do not enter on them.
          f.trapno(0).err(0).addr(0);
          return RunResult.INTERRUPTED;
        }
      }
      if (runner.takeInterrupt()) {
        f.trapno(0).err(0).addr(0);
        return RunResult.INTERRUPTED;
      }
      if (timeout != null && timeout.compareTo(LONGEST_TIMEOUT) <= 0) {
        long nanos = Math.max(1, timeout.toNanos());
        deadline = System.nanoTime() + nanos;
        v.armTimer(nanos);
      }
      return loop(v, domain, vs, f, x, runner, deadline);
    } finally {
      if (vpage != null) {
        vs.exitVpageRun(self);
      }
      runner.inRun(false);
      if (deadline != 0) {
        v.disarmTimer();
        // A timer that fired after the last exit must not stop the next run. (Interrupts are
        // not lost by this: the request flag, not the signal, says whether one is pending.)
        v.drainKicks();
      }
      domain.vcpus.release(v);
      vs.counters().run(System.nanoTime() - start);
    }
  }

  // Trap frame field indices (DragonFly's order) and kvm_regs indices (KVM's order).
  private static final int F_RDI = 0;
  private static final int F_RSI = 1;
  private static final int F_RDX = 2;
  private static final int F_RCX = 3;
  private static final int F_R8 = 4;
  private static final int F_R9 = 5;
  private static final int F_RAX = 6;
  private static final int F_RBX = 7;
  private static final int F_RBP = 8;
  private static final int F_R10 = 9;
  private static final int F_R11 = 10;
  private static final int F_R12 = 11;
  private static final int F_R13 = 12;
  private static final int F_R14 = 13;
  private static final int F_R15 = 14;
  private static final int F_TRAPNO = 16;
  private static final int F_ADDR = 17;
  private static final int F_ERR = 19;
  private static final int F_RIP = 20;
  private static final int F_CS = 21;
  private static final int F_RFLAGS = 22;
  private static final int F_RSP = 23;
  private static final int F_SS = 24;
  private static final int R_RAX = 0;
  private static final int R_RBX = 1;
  private static final int R_RCX = 2;
  private static final int R_RDX = 3;
  private static final int R_RSI = 4;
  private static final int R_RDI = 5;
  private static final int R_RSP = 6;
  private static final int R_RBP = 7;
  private static final int R_R8 = 8;
  private static final int R_R9 = 9;
  private static final int R_R10 = 10;
  private static final int R_R11 = 11;
  private static final int R_R12 = 12;
  private static final int R_R13 = 13;
  private static final int R_R14 = 14;
  private static final int R_R15 = 15;
  private static final int R_RIP = 16;
  private static final int R_RFLAGS = 17;
  private static final ValueLayout.OfLong FRAME_LONG = ValueLayout.JAVA_LONG_UNALIGNED;

  /**
   * Writes the frame into the sync registers and whatever segment state differs. Registers move
   * in bulk through the vCPU's scratch arrays: one checked copy each way instead of one checked
   * access per register.
   */
  private void load(Vcpu v, Vmspace vs, long cr3, TrapFrame f, VextFrame x) {
    long[] fr = v.frame;
    long[] r = v.regs;
    if (v.stubOutRip != -1 && Math.abs(f.rip() - v.stubOutRip) <= 2) {
      // A frame aimed at the stub's own out (a hostile one: the stubs are supervisor-only)
      // would have KVM skip that out as the completion of the last exit and start the guest
      // two bytes on (issue 16, HostileGuestTest). Complete it now, without entering; the
      // registers written below replace whatever that left.
      consumeStubExit(v);
    }
    MemorySegment.copy(f.segment(), FRAME_LONG, 0, fr, 0, fr.length);
    r[R_RAX] = fr[F_RAX];
    r[R_RBX] = fr[F_RBX];
    r[R_RCX] = fr[F_RCX];
    r[R_RDX] = fr[F_RDX];
    r[R_RSI] = fr[F_RSI];
    r[R_RDI] = fr[F_RDI];
    r[R_RSP] = fr[F_RSP];
    r[R_RBP] = fr[F_RBP];
    r[R_R8] = fr[F_R8];
    r[R_R9] = fr[F_R9];
    r[R_R10] = fr[F_R10];
    r[R_R11] = fr[F_R11];
    r[R_R12] = fr[F_R12];
    r[R_R13] = fr[F_R13];
    r[R_R14] = fr[F_R14];
    r[R_R15] = fr[F_R15];
    r[R_RIP] = fr[F_RIP];
    r[R_RFLAGS] = fr[F_RFLAGS];
    KvmRun run = v.kvmRun();
    run.writeRegs(r);
    long dirty = Kvm.KVM_SYNC_X86_REGS;
    // A flipped write-through bit (a TLB flush, see enterUser) leaves the root the same.
    if (v.loadedSpace() != vs || ((run.sreg(KvmSregs.CR3) ^ cr3) & ~CR3_PWT) != 0) {
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
      Vcpu v, Domain domain, Vmspace vs, TrapFrame f, VextFrame x, RunnerState runner, long deadline) {
    KvmRun run = v.kvmRun();
    RunResult pendingStop = null;
    long lastFaultVa = -1;
    int repeats = 0;
    boolean retriedFault = false;
    ExitCounters counters = vs.counters();
    while (true) {
      // Off by default: one read of the event type's enabled flag per exit, nothing allocated.
      ExitEvent event = ExitEvent.TYPE.isEnabled() ? new ExitEvent() : null;
      if (event != null) {
        event.begin();
      }
      long entered = System.nanoTime();
      int rc = enterUser(v, domain);
      long guest = System.nanoTime() - entered;
      if (event != null) {
        event.end();
      }
      if (rc == -Errnos.EFAULT && !retriedFault && vs.revokeTruncatedFilePages()) {
        // A shared file mapping's file was truncated under it: the access faults normally now.
        count(counters, event, vs, ExitCounters.OTHER, ExitCounters.RUN_EFAULT, guest);
        retriedFault = true;
        continue;
      }
      retriedFault = false;
      if (rc < 0) {
        if (rc != -Errnos.EINTR) {
          v.markDead();
          throw new IllegalStateException("KVM_RUN failed: " + Errnos.name(-rc));
        }
        v.drainKicks();
        RunResult stop = stopReason(runner, deadline);
        if (stop == null) {
          count(counters, event, vs, ExitCounters.OTHER, Kvm.KVM_EXIT_INTR, guest);
          continue;
        }
        if (cpl(run) != 3) {
          // Stopped inside an exception stub: let it exit, then stop after handling the exit.
          count(counters, event, vs, ExitCounters.OTHER, Kvm.KVM_EXIT_INTR, guest);
          pendingStop = stop;
          continue;
        }
        count(counters, event, vs, ExitCounters.INTERRUPT, Kvm.KVM_EXIT_INTR, guest);
        captureUser(v, f, x);
        f.trapno(0).err(0).addr(0);
        return stop;
      }
      int reason = run.exitReason();
      if (reason == Kvm.KVM_EXIT_IO) {
        boolean out = run.ioDirection() == Kvm.KVM_EXIT_IO_OUT;
        int kind = flavour.classifyIoExit(run.ioPort(), out, run.reg(KvmRegs.RIP), cpl(run));
        if (kind == ExecutionFlavour.EXIT_SYSCALL) {
          v.stubOutRip = run.reg(KvmRegs.RIP);
          if (flavour.syscallExitsAtCpl0()) {
            v.atCpl0(true);
          }
          count(counters, event, vs, ExitCounters.SYSCALL, reason, guest);
          captureSyscall(v, f, x);
          keepPendingInterrupt(runner, pendingStop);
          return RunResult.SYSCALL;
        }
        if (kind >= 0) {
          v.stubOutRip = run.reg(KvmRegs.RIP);
          v.atCpl0(true);
          captureException(v, domain.system.host(), kind, f, x);
          boolean resolved = false;
          if (kind == 14) {
            long va = f.addr();
            repeats = va == lastFaultVa ? repeats + 1 : 0;
            lastFaultVa = va;
            resolved = repeats < MAX_REPEATED_FAULTS && resolveFault(vs, f);
          }
          count(counters, event, vs,
              resolved ? ExitCounters.DEMAND_FAULT : kind == 14 ? ExitCounters.PAGE_FAULT : ExitCounters.TRAP,
              reason, guest);
          if (resolved && pendingStop == null) {
            resume(v);
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
        count(counters, event, vs, ExitCounters.TRAP, reason, guest);
        keepPendingInterrupt(runner, pendingStop);
        captureUser(v, f, x);
        f.rip(untrustedIoRip(vs, run, out));
        finishPendingIo(v, run);
        f.trapno(Trap.T_PROTFLT).err(0).addr(0);
        return RunResult.TRAP;
      }
      // MMIO, a triple fault, an internal error: a trap for the caller; anything else fails.
      boolean trap = reason == Kvm.KVM_EXIT_MMIO || reason == Kvm.KVM_EXIT_SHUTDOWN
          || reason == Kvm.KVM_EXIT_INTERNAL_ERROR;
      count(counters, event, vs, trap ? ExitCounters.TRAP : ExitCounters.OTHER, reason, guest);
      keepPendingInterrupt(runner, pendingStop);
      return unusualExit(v, vs, run, reason, f, x);
    }
  }

  /** Counts one exit, and records it as a JFR event when those are on. */
  private static void count(ExitCounters counters, ExitEvent event, Vmspace vs, int kind, int reason, long nanos) {
    counters.exit(kind, reason, nanos);
    if (event != null) {
      event.vmspace = vs.id();
      event.kind = ExitCounters.kindName(kind);
      event.reason = reason == ExitCounters.RUN_EFAULT ? "EFAULT" : Kvm.exitName(reason);
      event.commit();
    }
  }

  /**
   * {@code KVM_RUN} into guest code. With a flavour that needs TLB shootdowns the vCPU first
   * says it is in guest mode and then reads the domain's generation (the shooter bumps it and
   * then reads {@code inGuest}: one of the two sees the other); if a shootdown happened since
   * its last flush, changing CR3 (its write-through bit) makes KVM reset the vCPU's MMU context
   * and flush its TLB before the entry.
   */
  private int enterUser(Vcpu v, Domain domain) {
    if (!shootdowns) {
      return v.enter();
    }
    v.inGuest = true;
    long generation = domain.tlbGeneration.get();
    if (v.flushedGeneration != generation) {
      KvmRun run = v.kvmRun();
      run.sreg(KvmSregs.CR3, run.sreg(KvmSregs.CR3) ^ CR3_PWT);
      run.dirtyRegs(run.dirtyRegs() | Kvm.KVM_SYNC_X86_SREGS);
      v.flushedGeneration = generation;
    }
    try {
      return v.enter();
    } finally {
      v.exits++;
      v.inGuest = false;
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
        captureUser(v, f, x);
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

  /** Reads the sync registers and copies the general ones into the frame image {@code fr}. */
  private static long[] readGprs(Vcpu v) {
    long[] r = v.regs;
    long[] fr = v.frame;
    v.kvmRun().readRegs(r);
    fr[F_RAX] = r[R_RAX];
    fr[F_RBX] = r[R_RBX];
    fr[F_RCX] = r[R_RCX];
    fr[F_RDX] = r[R_RDX];
    fr[F_RSI] = r[R_RSI];
    fr[F_RDI] = r[R_RDI];
    fr[F_RBP] = r[R_RBP];
    fr[F_R8] = r[R_R8];
    fr[F_R9] = r[R_R9];
    fr[F_R10] = r[R_R10];
    fr[F_R11] = r[R_R11];
    fr[F_R12] = r[R_R12];
    fr[F_R13] = r[R_R13];
    fr[F_R14] = r[R_R14];
    fr[F_R15] = r[R_R15];
    fr[F_CS] = GuestLayout.USER_CS;
    fr[F_SS] = GuestLayout.USER_DS;
    return r;
  }

  /** Writes the frame image into the caller's frame (xflags and flags as they came in). */
  private static void store(Vcpu v, TrapFrame f) {
    MemorySegment.copy(v.frame, 0, f.segment(), FRAME_LONG, 0, v.frame.length);
  }

  private static void captureBases(KvmRun run, VextFrame x) {
    // The guest can change its own bases (wrfsbase works at CPL3 on some hosts).
    x.fsBase(run.sreg(KvmSregs.FS + KvmSregs.SEG_BASE));
    x.gsBase(run.sreg(KvmSregs.GS + KvmSregs.SEG_BASE));
  }

  /** The guest is at CPL3: its registers are the vCPU's. */
  private static void captureUser(Vcpu v, TrapFrame f, VextFrame x) {
    long[] r = readGprs(v);
    long[] fr = v.frame;
    fr[F_RSP] = r[R_RSP];
    fr[F_RIP] = r[R_RIP];
    fr[F_RFLAGS] = r[R_RFLAGS];
    store(v, f);
    captureBases(v.kvmRun(), x);
  }

  /** DragonFly's syscall frame: tf_rcx holds r10, rip and rflags come from rcx and r11. */
  private static void captureSyscall(Vcpu v, TrapFrame f, VextFrame x) {
    long[] r = readGprs(v);
    long[] fr = v.frame;
    fr[F_RCX] = r[R_R10];
    fr[F_RIP] = r[R_RCX];
    fr[F_RFLAGS] = r[R_R11];
    fr[F_RSP] = r[R_RSP];
    fr[F_TRAPNO] = Trap.T_FAST_SYSCALL;
    fr[F_ERR] = Trap.SYSCALL_INSN_LENGTH;
    fr[F_ADDR] = 0;
    store(v, f);
    captureBases(v.kvmRun(), x);
  }

  /**
   * The exception stub's frame: the CPU pushed [err] rip cs rflags rsp ss on the kernel stack,
   * read from the domain's system-area memory ({@code guest}, offset = va - KERNEL_BASE).
   */
  private static void captureException(Vcpu v, MemorySegment guest, int vector, TrapFrame f, VextFrame x) {
    long[] r = readGprs(v);
    long[] fr = v.frame;
    long sp = r[R_RSP] - GuestLayout.KERNEL_BASE;
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
    fr[F_RIP] = guest.get(ValueLayout.JAVA_LONG, sp);
    // The CPU sets RF in the RFLAGS it pushes for a fault, so that the retried instruction does
    // not hit an instruction breakpoint again, and a trap's instruction has completed, which
    // clears RF. Who delivered the exception varies (the CPU, KVM injecting one it intercepted,
    // an emulator) and so does RF in practice; the frame states what the architecture does.
    long rflags = guest.get(ValueLayout.JAVA_LONG, sp + 16);
    fr[F_RFLAGS] = isFaultClass(vector) ? rflags | RFLAGS_RF : rflags & ~RFLAGS_RF;
    fr[F_RSP] = guest.get(ValueLayout.JAVA_LONG, sp + 24);
    fr[F_TRAPNO] = Trap.forVector(vector);
    fr[F_ERR] = err;
    fr[F_ADDR] = vector == 14 ? v.kvmRun().sreg(KvmSregs.CR2) : 0;
    store(v, f);
    captureBases(v.kvmRun(), x);
  }

  /** RFLAGS.RF, the resume flag. */
  private static final long RFLAGS_RF = 0x10000L;

  /**
   * Whether an exception vector is a fault, whose pushed RFLAGS carries RF: every exception
   * except #DB (a trap, or an instruction breakpoint, which does not set RF), NMI, #BP, #OF,
   * #DF and #MC (aborts).
   */
  static boolean isFaultClass(int vector) {
    return switch (vector) {
      case 0, 5, 6, 7, 10, 11, 12, 13, 14, 16, 17, 19, 20, 21 -> true;
      default -> false;
    };
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

  /** Re-enters user mode at the faulting instruction with the state the frame holds. */
  private static void resume(Vcpu v) {
    long[] r = v.regs;
    long[] fr = v.frame;
    r[R_RIP] = fr[F_RIP];
    r[R_RSP] = fr[F_RSP];
    r[R_RFLAGS] = fr[F_RFLAGS];
    KvmRun run = v.kvmRun();
    run.writeRegs(r);
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

  /**
   * Lets KVM complete the last stub exit's {@code out} without running guest code ({@code
   * immediate_exit}); any register changes still pending for KVM are applied by it as well.
   */
  private static void consumeStubExit(Vcpu v) {
    KvmRun run = v.kvmRun();
    run.immediateExit(true);
    try {
      int rc = v.enter();
      if (rc != -Errnos.EINTR && rc != 0) {
        v.markDead();
        throw new IllegalStateException("KVM_RUN (completing a stub exit) failed: " + Errnos.name(-rc));
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

  private static int codeByte(Vmspace vs, long va) {
    return vs.readUserByte(va);
  }
}
