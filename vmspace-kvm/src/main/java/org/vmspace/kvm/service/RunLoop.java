package org.vmspace.kvm.service;

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
import org.vmspace.kvm.ioctl.KvmRun;
import org.vmspace.kvm.ioctl.KvmSregs;
import org.vmspace.kvm.linux.Errnos;
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
 * <p>This class is the run's entry and its stops: taking a vCPU, the timeout's timer, the
 * interrupt checked before entering, the TLB flush on entry, and the loop around {@code
 * KVM_RUN}. Moving registers is {@link FrameRegisters}'s; what each exit means is {@link
 * ExitDispatch}'s.
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

  private final KvmContext ctx;
  private final ExecutionFlavour flavour;
  private final boolean shootdowns;
  /**
   * Each running thread's exit dispatcher, made at its first run and reused: a run is one guest
   * system call's round trip, which allocates nothing (issue 17, the hot path).
   */
  private final ThreadLocal<ExitDispatch> dispatchers;

  RunLoop(KvmContext ctx) {
    this.ctx = ctx;
    this.flavour = ctx.flavour;
    this.shootdowns = flavour.needsTlbShootdown();
    ExecutionFlavour fl = flavour;
    this.dispatchers = ThreadLocal.withInitial(() -> new ExitDispatch(fl));
  }

  RunResult run(Vmspace vs, TrapFrame f, VextFrame x, Duration timeout) throws InterruptedException {
    if (!sanitise(f)) {
      return RunResult.TRAP;
    }
    RunnerState runner = ctx.runners.current();
    // An address space on its caller's tables runs in its memory object's VM.
    Vmspace.Vpage vpage = vs.vpage();
    Domain domain = vpage == null ? ctx.main : (Domain) vpage.domain();
    Vcpu v = acquire(domain, runner);
    long deadline = 0;
    Thread self = runner.thread();
    long start = System.nanoTime();
    vs.enterRun();
    try {
      ctx.fpu.switchTo(v, x);
      // From the snapshot: a MADV_SETMAP meanwhile must not put the caller's root in this VM.
      FrameRegisters.load(v, vs, vpage == null ? vs.tables().root() : vpage.cr3(), f, x);
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
      vs.exitRun();
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

  /**
   * Forces the user selectors and the RFLAGS the contract allows; false (the frame then says
   * {@code #GP}) if RIP or RSP is not canonical, which no entry could survive.
   */
  private static boolean sanitise(TrapFrame f) {
    f.cs(GuestLayout.USER_CS).ss(GuestLayout.USER_DS);
    f.rflags((f.rflags() & RFLAGS_USER_MASK) | RFLAGS_FORCED);
    if (!Pte.isCanonical(f.rip()) || !Pte.isCanonical(f.rsp())) {
      f.trapno(Trap.T_PROTFLT).err(0).addr(0);
      return false;
    }
    return true;
  }

  private Vcpu acquire(Domain domain, RunnerState runner) throws InterruptedException {
    Vcpu v = domain.vcpus.acquire(runner, VCPU_WAIT_NANOS);
    if (v == null) {
      throw new VmFailure(Errno.EAGAIN, "every vCPU is running (maxVcpus " + ctx.options.maxVcpus() + ")");
    }
    return v;
  }

  private RunResult loop(
      Vcpu v, Domain domain, Vmspace vs, TrapFrame f, VextFrame x, RunnerState runner, long deadline) {
    ExitDispatch exits = dispatchers.get();
    exits.begin(v, domain, vs, f, x, runner);
    try {
      return exitLoop(exits, v, domain, vs, runner, deadline);
    } finally {
      exits.end();
    }
  }

  private RunResult exitLoop(
      ExitDispatch exits, Vcpu v, Domain domain, Vmspace vs, RunnerState runner, long deadline) {
    boolean retriedFault = false;
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
      exits.exited(event, guest);
      if (rc == -Errnos.EFAULT && !retriedFault && vs.revokeTruncatedFilePages()) {
        // A shared file mapping's file was truncated under it: the access faults normally now.
        exits.count(ExitCounters.OTHER, ExitCounters.RUN_EFAULT);
        retriedFault = true;
        continue;
      }
      retriedFault = false;
      RunResult result = rc < 0 ? kicked(v, rc, exits, runner, deadline) : exits.exit();
      if (result != null) {
        return result;
      }
    }
  }

  /**
   * {@code KVM_RUN} came back without an exit: {@code EINTR} is a kick (an interrupt request or
   * the timer), anything else a vCPU that cannot run again. The result, or null to enter again.
   */
  private static RunResult kicked(Vcpu v, int rc, ExitDispatch exits, RunnerState runner, long deadline) {
    if (rc != -Errnos.EINTR) {
      v.markDead();
      throw new IllegalStateException("KVM_RUN failed: " + Errnos.name(-rc));
    }
    v.drainKicks();
    RunResult stop = stopReason(runner, deadline);
    return stop == null ? exits.kicked() : exits.stop(stop);
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
      run.sreg(KvmSregs.CR3, run.sreg(KvmSregs.CR3) ^ FrameRegisters.CR3_PWT);
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

  private static RunResult stopReason(RunnerState runner, long deadline) {
    if (runner.takeInterrupt()) {
      return RunResult.INTERRUPTED;
    }
    if (deadline != 0 && System.nanoTime() - deadline >= 0) {
      return RunResult.TIMEOUT;
    }
    return null;
  }
}
