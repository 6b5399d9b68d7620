package org.vmspace.kvm.vcpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.kvm.flavour.ExecutionFlavour;
import org.vmspace.kvm.guest.GuestLayout;
import org.vmspace.kvm.guest.SystemImage;
import org.vmspace.kvm.ioctl.Kvm;
import org.vmspace.kvm.ioctl.KvmRun;
import org.vmspace.kvm.ioctl.KvmSregs;
import org.vmspace.kvm.ioctl.KvmVcpu;
import org.vmspace.kvm.ioctl.KvmVm;
import org.vmspace.kvm.linux.Errnos;
import org.vmspace.kvm.linux.Libc;

/**
 * A KVM vCPU set up to run user code of any vmspace of its context: its own GDT, TSS and
 * kernel stack (vCPU area {@link #id()}), the context's IDT, the flavour's syscall MSRs, the
 * supported CPUID, and {@code kvm_run} sync registers valid on every exit.
 *
 * <p>It remembers what is loaded (which address space, whether it was left at CPL0 by an
 * exception exit, whose floating-point state) so that a run changes only what differs. A vCPU
 * is used by one thread at a time, handed out by {@link VcpuPool}; {@link #bind} moves it to
 * another thread.
 */
public final class Vcpu implements AutoCloseable {
  private static final int MSR_STAR = 0xC0000081;
  private static final int MSR_LSTAR = 0xC0000082;
  private static final int MSR_CSTAR = 0xC0000083;
  private static final int MSR_SFMASK = 0xC0000084;
  private static final int MSR_KERNEL_GS_BASE = 0xC0000102;
  /** The XSAVE area size of KVM_GET_XSAVE/KVM_SET_XSAVE. */
  public static final long XSAVE_SIZE = 4096;

  private final KvmVcpu kvm;
  private final KvmRun run;
  private final int id;
  private final Arena arena = Arena.ofShared();
  private final MemorySegment errnoCapture = Libc.newErrnoCapture();
  private final MemorySegment kickSet;
  private final MemorySegment siginfo;
  private final MemorySegment zeroTimeout;
  private final MemorySegment timerSpec;
  private final MemorySegment xsaveScratch;

  /** The pool that hands this vCPU out, or null for a maintenance vCPU. */
  VcpuPool pool;

  // Guarded by the pool: changed only by the thread that holds the vCPU.
  RunnerState owner;
  boolean busy;
  boolean dead;
  /**
   * For TLB shootdowns (flavours that need them): whether the vCPU is in, or about to enter,
   * {@code KVM_RUN} with user code, and how many such runs have returned. A shooter that sees
   * {@code inGuest} kicks the thread and waits for {@code exits} to move.
   */
  public volatile boolean inGuest;
  public volatile long exits;
  /** The domain TLB generation this vCPU last flushed up to (its own thread only). */
  public long flushedGeneration;
  /**
   * The RIP KVM reported at the last exit through a stub's own {@code out}, or -1: KVM completes
   * that {@code out} on the next {@code KVM_RUN} by skipping it, but only if RIP is still at it
   * (its {@code complete_fast_pio_out}), so a next frame whose RIP is that address would start
   * two bytes further on. The run loop consumes the completion first in that case (its own
   * thread only).
   */
  public long stubOutRip = -1;
  /**
   * Scratch for moving registers between a frame and the sync registers with bulk copies: the
   * 18 words of {@code kvm_regs} and the 25 of a frame (its holder's thread only).
   */
  public final long[] regsScratch = new long[18];
  /** See {@link #regsScratch}. */
  public final long[] frameScratch = new long[25];
  private long timer;
  private boolean timerArmed;

  /** The address space whose root is in CR3 (by identity), or null if unknown. */
  private Object loadedSpace;
  /** Whether the last exit left the vCPU at CPL0 (in an exception stub). */
  private boolean atCpl0;
  /** The guest thread (vext frame) whose x87/SSE/AVX state is in the vCPU, or null. */
  Object fpuOwner;

  private Vcpu(KvmVcpu kvm, int id) {
    this.kvm = kvm;
    this.run = kvm.kvmRun();
    this.id = id;
    this.kickSet = Libc.newSigset(arena);
    Libc.sigaddset(kickSet, KickSignal.number());
    this.siginfo = arena.allocate(Libc.SIGINFO_SIZE, 8);
    this.zeroTimeout = arena.allocate(16, 8);
    this.timerSpec = arena.allocate(32, 8);
    this.xsaveScratch = arena.allocate(XSAVE_SIZE, 64);
  }

  /**
   * Creates vCPU {@code id} of {@code vm} ready to enter user mode: writes its vCPU area, sets
   * CPUID, segment state for CPL3, the flavour's MSRs, and makes the sync registers valid.
   *
   * @param user whether this vCPU runs user code (false: the maintenance vCPU, which stays at
   *     CPL0 on the maintenance root)
   */
  public static Vcpu create(
      KvmVm vm,
      int id,
      SystemImage image,
      ExecutionFlavour flavour,
      MemorySegment cpuid,
      boolean user) {
    image.writeVcpuArea(id, user ? flavour.stubs().userIoPort() : -1);
    KvmVcpu kvm = vm.createVcpu(id);
    Vcpu v;
    try {
      v = new Vcpu(kvm, id);
    } catch (RuntimeException e) {
      kvm.close();
      throw e;
    }
    try {
      kvm.setCpuid2(cpuid);
      try (Arena a = Arena.ofConfined()) {
        MemorySegment sregs = a.allocate(KvmSregs.SIZE, 8);
        kvm.getSregs(sregs);
        initialSregs(sregs, image, id, user);
        kvm.setSregs(sregs);
        // Make the sync copy in kvm_run valid before the first exit fills it.
        kvm.getSregs(sregs);
        MemorySegment.copy(sregs, 0, v.run.segment(), KvmRun.SYNC_SREGS, KvmSregs.SIZE);
        MemorySegment regs = a.allocate(144, 8);
        kvm.getRegs(regs);
        MemorySegment.copy(regs, 0, v.run.segment(), KvmRun.SYNC_REGS, 144);
      }
      kvm.setMsrs(
          new int[] {MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SFMASK, MSR_KERNEL_GS_BASE},
          new long[] {
            ((long) GuestLayout.USER_CS32 << 48) | ((long) GuestLayout.KERNEL_CS << 32),
            flavour.lstar(),
            0,
            flavour.sfmask(),
            0
          });
      v.run.validRegs(Kvm.KVM_SYNC_X86_REGS | Kvm.KVM_SYNC_X86_SREGS);
      v.atCpl0 = !user;
      return v;
    } catch (RuntimeException e) {
      v.close(); // the vCPU's fd and its own arena
      throw e;
    }
  }

  private static void initialSregs(MemorySegment s, SystemImage image, int id, boolean user) {
    long b = 0;
    if (user) {
      KvmSregs.setSegment(s, b, KvmSregs.CS, 0, 0xFFFFFFFF, GuestLayout.USER_CS, 11, 3, true, true, false, true);
      for (long seg : new long[] {KvmSregs.SS, KvmSregs.DS, KvmSregs.ES, KvmSregs.FS, KvmSregs.GS}) {
        KvmSregs.setSegment(s, b, seg, 0, 0xFFFFFFFF, GuestLayout.USER_DS, 3, 3, true, false, true, true);
      }
    } else {
      KvmSregs.setSegment(s, b, KvmSregs.CS, 0, 0xFFFFFFFF, GuestLayout.KERNEL_CS, 11, 0, true, true, false, true);
      for (long seg : new long[] {KvmSregs.SS, KvmSregs.DS, KvmSregs.ES, KvmSregs.FS, KvmSregs.GS}) {
        KvmSregs.setSegment(s, b, seg, 0, 0xFFFFFFFF, GuestLayout.KERNEL_DS, 3, 0, true, false, true, true);
      }
    }
    // A busy 64-bit TSS in TR; the descriptor in the GDT says the same.
    KvmSregs.setSegment(
        s, b, KvmSregs.TR, image.tssVa(id), GuestLayout.TSS_LIMIT, GuestLayout.TSS_SELECTOR, 11, 0,
        false, false, false, false);
    // No LDT. KVM's reset state leaves LDTR present at base 0 with limit 0xFFFF (SVM's
    // init_vmcb, VMX's vcpu reset alike): the CPU would read descriptors for selectors with TI
    // set from linear 0..0xFFFF of the running address space, which a vmspace may map, so a
    // CPL3 guest could write a call gate to the kernel code segment there and far-call into
    // CPL0 at an address of its choosing (issue 16, HostileGuestTest). An unusable LDTR makes
    // every such selector #GP(selector), as on an OS that never loads an LDT.
    KvmSregs.setUnusable(s, b, KvmSregs.LDT);
    KvmSregs.setTable(s, b, KvmSregs.GDT, image.gdtVa(id), GuestLayout.GDT_ENTRIES * 8 - 1);
    KvmSregs.setTable(
        s, b, KvmSregs.IDT, GuestLayout.kernelVa(GuestLayout.IDT), GuestLayout.IDT_VECTORS * 16 - 1);
    KvmSregs.setLong(s, b, KvmSregs.CR0, 0x80050033L); // PG AM WP NE ET MP PE
    // PAE, OSFXSR, OSXMMEXCPT, UMIP (sgdt/sidt/smsw fault instead of leaking kernel addresses).
    KvmSregs.setLong(s, b, KvmSregs.CR4, 0x20L | 0x200L | 0x400L | 0x800L);
    KvmSregs.setLong(s, b, KvmSregs.EFER, 0xD01L); // SCE LME LMA NXE
    GuestLayout layout = image.layout();
    KvmSregs.setLong(
        s, b, KvmSregs.CR3, layout.gpa(user ? layout.userTemplateRoot() : layout.maintenanceRoot()));
  }

  /** The vCPU id, also its vCPU area index. */
  public int id() {
    return id;
  }

  /** The underlying KVM vCPU. */
  public KvmVcpu kvm() {
    return kvm;
  }

  /** The shared kvm_run (sync registers, exit details). */
  public KvmRun kvmRun() {
    return run;
  }

  /** Whether the last exit left the vCPU at CPL0. */
  public boolean atCpl0() {
    return atCpl0;
  }

  public void atCpl0(boolean value) {
    atCpl0 = value;
  }

  /** The address space loaded in CR3, by identity. */
  public Object loadedSpace() {
    return loadedSpace;
  }

  public void loadedSpace(Object space) {
    loadedSpace = space;
  }

  /** The thread the vCPU is bound to, or null. */
  public Thread ownerThread() {
    RunnerState o = owner;
    return o == null ? null : o.thread;
  }

  /** Marks the vCPU unusable (after a shutdown or an internal error); the pool closes it. */
  public void markDead() {
    dead = true;
  }

  // ---------------------------------------------------------------- thread binding

  /**
   * Binds the vCPU to the calling thread: blocks the kick signal in the thread, lets {@code
   * KVM_RUN} unblock it, and creates the POSIX timer that delivers it to this thread.
   */
  void bind(RunnerState runner) {
    if (!runner.signalBlocked) {
      runner.kvmSignalMask = KickSignal.blockInCurrentThread();
      runner.signalBlocked = true;
    }
    kvm.setSignalMask(runner.kvmSignalMask);
    if (timer != 0) {
      Libc.timerDelete(timer);
      timer = 0;
    }
    timer = Libc.timerCreateForThread(KickSignal.number(), runner.tid);
    owner = runner;
  }

  /** Arms the timeout: the kick signal reaches this thread after {@code nanos}. */
  public void armTimer(long nanos) {
    int r = Libc.timerSettimeRaw(errnoCapture, timer, Math.max(1, nanos), timerSpec);
    if (r < 0) {
      throw new org.vmspace.kvm.linux.LinuxException("timer_settime", -r);
    }
    timerArmed = true;
  }

  /** Disarms the timeout if it is armed. */
  public void disarmTimer() {
    if (timerArmed) {
      timerArmed = false;
      Libc.timerSettimeRaw(errnoCapture, timer, 0, timerSpec);
    }
  }

  /**
   * Takes every pending kick signal of the calling thread.
   *
   * @return bit 0 set if one came from the timer, bit 1 set if one came from elsewhere
   */
  public int drainKicks() {
    int seen = 0;
    while (true) {
      int r = Libc.sigtimedwaitRaw(errnoCapture, kickSet, siginfo, zeroTimeout);
      if (r < 0) {
        if (-r == Errnos.EINTR) {
          continue;
        }
        return seen;
      }
      int code = siginfo.get(ValueLayout.JAVA_INT, 8);
      seen |= code == Libc.SI_TIMER ? 1 : 2;
    }
  }

  /** The kernel thread id of the thread the vCPU is bound to, or 0. */
  public int ownerTid() {
    RunnerState o = owner;
    return o == null ? 0 : o.tid;
  }

  /** {@code KVM_RUN}: 0 after an exit, or {@code -errno}. */
  public int enter() {
    stubOutRip = -1; // any KVM_RUN consumes a pending completion
    return kvm.run();
  }

  // ---------------------------------------------------------------- floating-point state

  /** Saves the vCPU's x87/SSE/AVX state into {@code area} (4096 bytes). */
  void saveFpu(MemorySegment area) {
    kvm.getXsave(xsaveScratch);
    MemorySegment.copy(xsaveScratch, 0, area, 0, XSAVE_SIZE);
  }

  /** Loads the vCPU's x87/SSE/AVX state from {@code area} (4096 bytes). */
  void loadFpu(MemorySegment area) {
    MemorySegment.copy(area, 0, xsaveScratch, 0, XSAVE_SIZE);
    kvm.setXsave(xsaveScratch);
  }

  @Override
  public void close() {
    if (timer != 0) {
      try {
        Libc.timerDelete(timer);
      } catch (RuntimeException ignored) {
        // The timer goes with the process anyway.
      }
      timer = 0;
    }
    kvm.close();
    arena.close();
  }

  @Override
  public String toString() {
    return "vCPU " + id;
  }
}
