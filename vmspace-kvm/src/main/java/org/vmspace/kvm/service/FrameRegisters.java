package org.vmspace.kvm.service;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.api.Trap;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.kvm.guest.GuestLayout;
import org.vmspace.kvm.ioctl.Kvm;
import org.vmspace.kvm.ioctl.KvmRegs;
import org.vmspace.kvm.ioctl.KvmRun;
import org.vmspace.kvm.ioctl.KvmSregs;
import org.vmspace.kvm.vcpu.Vcpu;
import org.vmspace.kvm.vm.Vmspace;

/**
 * Register transfer between the caller's {@link TrapFrame}/{@link VextFrame} and a vCPU's
 * {@code kvm_run} sync registers, in both directions: {@link #load} before an entry, the
 * {@code capture*} methods after an exit, {@link #resume} to re-enter at a resolved fault.
 *
 * <p>Guarantees: no register ioctl is ever made (everything goes through the sync registers
 * and their dirty bits); the guest always gets the user code and stack selectors, whatever the
 * frame said; a frame written back names only CPL3 state (an exception taken at CPL0 is an
 * error, not a frame). Each register is copied once each way, straight between the caller's
 * frame and {@code kvm_run} (issue 17: it went through two scratch arrays, three copies each
 * way); the layouts differ in order, so it is one move per register, never a bulk copy. A field
 * a capture does not name (xflags, flags, and trapno, err, addr for a user stop) keeps the
 * caller's value. Stateless: safe for any thread that holds the vCPU.
 */
final class FrameRegisters {
  /** CR3's page-level write-through bit: toggled to make KVM flush a vCPU's TLB at entry. */
  static final long CR3_PWT = 0x8;
  /** RFLAGS.RF, set in the RFLAGS of a fault's frame. */
  static final long RFLAGS_RF = 0x10000L;

  // The trap frame's field offsets (DragonFly's order) and the sync registers' offsets in
  // kvm_run (KVM's order).
  private static final long F_RDI = TrapFrame.Field.RDI.offset();
  private static final long F_RSI = TrapFrame.Field.RSI.offset();
  private static final long F_RDX = TrapFrame.Field.RDX.offset();
  private static final long F_RCX = TrapFrame.Field.RCX.offset();
  private static final long F_R8 = TrapFrame.Field.R8.offset();
  private static final long F_R9 = TrapFrame.Field.R9.offset();
  private static final long F_RAX = TrapFrame.Field.RAX.offset();
  private static final long F_RBX = TrapFrame.Field.RBX.offset();
  private static final long F_RBP = TrapFrame.Field.RBP.offset();
  private static final long F_R10 = TrapFrame.Field.R10.offset();
  private static final long F_R11 = TrapFrame.Field.R11.offset();
  private static final long F_R12 = TrapFrame.Field.R12.offset();
  private static final long F_R13 = TrapFrame.Field.R13.offset();
  private static final long F_R14 = TrapFrame.Field.R14.offset();
  private static final long F_R15 = TrapFrame.Field.R15.offset();
  private static final long F_TRAPNO = TrapFrame.Field.TRAPNO.offset();
  private static final long F_ADDR = TrapFrame.Field.ADDR.offset();
  private static final long F_ERR = TrapFrame.Field.ERR.offset();
  private static final long F_RIP = TrapFrame.Field.RIP.offset();
  private static final long F_CS = TrapFrame.Field.CS.offset();
  private static final long F_RFLAGS = TrapFrame.Field.RFLAGS.offset();
  private static final long F_RSP = TrapFrame.Field.RSP.offset();
  private static final long F_SS = TrapFrame.Field.SS.offset();
  private static final long R_RAX = KvmRun.SYNC_REGS + KvmRegs.RAX;
  private static final long R_RBX = KvmRun.SYNC_REGS + KvmRegs.RBX;
  private static final long R_RCX = KvmRun.SYNC_REGS + KvmRegs.RCX;
  private static final long R_RDX = KvmRun.SYNC_REGS + KvmRegs.RDX;
  private static final long R_RSI = KvmRun.SYNC_REGS + KvmRegs.RSI;
  private static final long R_RDI = KvmRun.SYNC_REGS + KvmRegs.RDI;
  private static final long R_RSP = KvmRun.SYNC_REGS + KvmRegs.RSP;
  private static final long R_RBP = KvmRun.SYNC_REGS + KvmRegs.RBP;
  private static final long R_R8 = KvmRun.SYNC_REGS + KvmRegs.R8;
  private static final long R_R9 = KvmRun.SYNC_REGS + KvmRegs.R9;
  private static final long R_R10 = KvmRun.SYNC_REGS + KvmRegs.R10;
  private static final long R_R11 = KvmRun.SYNC_REGS + KvmRegs.R11;
  private static final long R_R12 = KvmRun.SYNC_REGS + KvmRegs.R12;
  private static final long R_R13 = KvmRun.SYNC_REGS + KvmRegs.R13;
  private static final long R_R14 = KvmRun.SYNC_REGS + KvmRegs.R14;
  private static final long R_R15 = KvmRun.SYNC_REGS + KvmRegs.R15;
  private static final long R_RIP = KvmRun.SYNC_REGS + KvmRegs.RIP;
  private static final long R_RFLAGS = KvmRun.SYNC_REGS + KvmRegs.RFLAGS;
  /**
   * A frame may be a view of any memory (TrapFrame.wrap): no alignment assumed. Its byte order is
   * little-endian, the host's (x86-64 only), as kvm_run's.
   */
  private static final ValueLayout.OfLong FRAME_LONG = ValueLayout.JAVA_LONG_UNALIGNED;
  /** kvm_run is a page of its own, mapped page-aligned. */
  private static final ValueLayout.OfLong RUN_LONG = ValueLayout.JAVA_LONG;

  private FrameRegisters() {}

  // ---------------------------------------------------------------- frames into the vCPU

  /** Writes the frame into the sync registers and whatever segment state differs. */
  static void load(Vcpu v, Vmspace vs, long cr3, TrapFrame f, VextFrame x) {
    if (v.stubOutRip != -1 && Math.abs(f.rip() - v.stubOutRip) <= 2) {
      // A frame aimed at the stub's own out (a hostile one: the stubs are supervisor-only)
      // would have KVM skip that out as the completion of the last exit and start the guest
      // two bytes on (issue 16, HostileGuestTest). Complete it now, without entering; the
      // registers written below replace whatever that left.
      ImmediateExit.consumeStubExit(v);
    }
    MemorySegment fs = f.segment();
    MemorySegment rs = v.kvmRun().segment();
    toRun(fs, F_RAX, rs, R_RAX);
    toRun(fs, F_RBX, rs, R_RBX);
    toRun(fs, F_RCX, rs, R_RCX);
    toRun(fs, F_RDX, rs, R_RDX);
    toRun(fs, F_RSI, rs, R_RSI);
    toRun(fs, F_RDI, rs, R_RDI);
    toRun(fs, F_RSP, rs, R_RSP);
    toRun(fs, F_RBP, rs, R_RBP);
    toRun(fs, F_R8, rs, R_R8);
    toRun(fs, F_R9, rs, R_R9);
    toRun(fs, F_R10, rs, R_R10);
    toRun(fs, F_R11, rs, R_R11);
    toRun(fs, F_R12, rs, R_R12);
    toRun(fs, F_R13, rs, R_R13);
    toRun(fs, F_R14, rs, R_R14);
    toRun(fs, F_R15, rs, R_R15);
    toRun(fs, F_RIP, rs, R_RIP);
    toRun(fs, F_RFLAGS, rs, R_RFLAGS);
    KvmRun run = v.kvmRun();
    long dirty = Kvm.KVM_SYNC_X86_REGS;
    // A flipped write-through bit (a TLB flush, see RunLoop.enterUser) leaves the root the same.
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

  /** The bytes of a {@code kvm_segment}. */
  private static final int KVM_SEGMENT_SIZE = 24;
  /**
   * The user code and stack segments as {@code kvm_segment} bytes, built once: a return to user
   * mode copies 48 bytes instead of setting 24 fields, which matters where this code is warm
   * but not compiled by C2 (every exception exit, and every exit under C1 only).
   */
  private static final MemorySegment USER_CS_BYTES = userSegment(KvmSregs.CS,
      GuestLayout.USER_CS, 11, true, false);
  private static final MemorySegment USER_SS_BYTES = userSegment(KvmSregs.SS,
      GuestLayout.USER_DS, 3, false, true);

  private static MemorySegment userSegment(long seg, int selector, int type, boolean longMode, boolean defaultBig) {
    MemorySegment all = MemorySegment.ofArray(new long[((int) seg + KVM_SEGMENT_SIZE) / 8]); // aligned for its longs
    KvmSregs.setSegment(all, 0, seg, 0, 0xFFFFFFFF, selector, type, 3, true, longMode, defaultBig, true);
    return all.asSlice(seg, KVM_SEGMENT_SIZE).asReadOnly();
  }

  /** Sets CS and SS of the sync registers to the user segments (flat, DPL 3, 64-bit code). */
  static void toUserSegments(KvmRun run) {
    MemorySegment s = run.segment();
    MemorySegment.copy(USER_CS_BYTES, 0, s, KvmRun.SYNC_SREGS + KvmSregs.CS, KVM_SEGMENT_SIZE);
    MemorySegment.copy(USER_SS_BYTES, 0, s, KvmRun.SYNC_SREGS + KvmSregs.SS, KVM_SEGMENT_SIZE);
  }

  /**
   * Re-enters user mode at the faulting instruction with the state the frame holds: its rip, rsp
   * and rflags, which {@link #captureException} just wrote; the other registers are still the
   * guest's in the sync area, as KVM left them at the exit.
   */
  static void resume(Vcpu v, TrapFrame f) {
    MemorySegment fs = f.segment();
    KvmRun run = v.kvmRun();
    MemorySegment rs = run.segment();
    toRun(fs, F_RIP, rs, R_RIP);
    toRun(fs, F_RSP, rs, R_RSP);
    toRun(fs, F_RFLAGS, rs, R_RFLAGS);
    toUserSegments(run);
    run.dirtyRegs(Kvm.KVM_SYNC_X86_REGS | Kvm.KVM_SYNC_X86_SREGS);
  }

  /** The privilege level the vCPU stopped at, from the CS selector in the sync registers. */
  static int cpl(KvmRun run) {
    return KvmSregs.selector(run.segment(), KvmRun.SYNC_SREGS, KvmSregs.CS) & 3;
  }

  // ---------------------------------------------------------------- exits into frames

  private static void toRun(MemorySegment frame, long from, MemorySegment run, long to) {
    run.set(RUN_LONG, to, frame.get(FRAME_LONG, from));
  }

  private static void toFrame(MemorySegment run, long from, MemorySegment frame, long to) {
    frame.set(FRAME_LONG, to, run.get(RUN_LONG, from));
  }

  /**
   * Copies the general registers but rcx (whose slot depends on the exit) and rsp from the sync
   * area into the frame, with the user selectors.
   */
  private static void captureGprs(MemorySegment rs, MemorySegment fs) {
    toFrame(rs, R_RAX, fs, F_RAX);
    toFrame(rs, R_RBX, fs, F_RBX);
    toFrame(rs, R_RDX, fs, F_RDX);
    toFrame(rs, R_RSI, fs, F_RSI);
    toFrame(rs, R_RDI, fs, F_RDI);
    toFrame(rs, R_RBP, fs, F_RBP);
    toFrame(rs, R_R8, fs, F_R8);
    toFrame(rs, R_R9, fs, F_R9);
    toFrame(rs, R_R10, fs, F_R10);
    toFrame(rs, R_R11, fs, F_R11);
    toFrame(rs, R_R12, fs, F_R12);
    toFrame(rs, R_R13, fs, F_R13);
    toFrame(rs, R_R14, fs, F_R14);
    toFrame(rs, R_R15, fs, F_R15);
    fs.set(FRAME_LONG, F_CS, GuestLayout.USER_CS);
    fs.set(FRAME_LONG, F_SS, GuestLayout.USER_DS);
  }

  private static void captureBases(KvmRun run, VextFrame x) {
    // The guest can change its own bases (wrfsbase works at CPL3 on some hosts).
    x.fsBase(run.sreg(KvmSregs.FS + KvmSregs.SEG_BASE));
    x.gsBase(run.sreg(KvmSregs.GS + KvmSregs.SEG_BASE));
  }

  /** The guest is at CPL3: its registers are the vCPU's. */
  static void captureUser(Vcpu v, TrapFrame f, VextFrame x) {
    KvmRun run = v.kvmRun();
    MemorySegment rs = run.segment();
    MemorySegment fs = f.segment();
    captureGprs(rs, fs);
    toFrame(rs, R_RCX, fs, F_RCX);
    toFrame(rs, R_RSP, fs, F_RSP);
    toFrame(rs, R_RIP, fs, F_RIP);
    toFrame(rs, R_RFLAGS, fs, F_RFLAGS);
    captureBases(run, x);
  }

  /** DragonFly's syscall frame: tf_rcx holds r10, rip and rflags come from rcx and r11. */
  static void captureSyscall(Vcpu v, TrapFrame f, VextFrame x) {
    KvmRun run = v.kvmRun();
    MemorySegment rs = run.segment();
    MemorySegment fs = f.segment();
    captureGprs(rs, fs);
    toFrame(rs, R_R10, fs, F_RCX);
    toFrame(rs, R_RCX, fs, F_RIP);
    toFrame(rs, R_R11, fs, F_RFLAGS);
    toFrame(rs, R_RSP, fs, F_RSP);
    fs.set(FRAME_LONG, F_TRAPNO, Trap.T_FAST_SYSCALL);
    fs.set(FRAME_LONG, F_ERR, Trap.SYSCALL_INSN_LENGTH);
    fs.set(FRAME_LONG, F_ADDR, 0);
    captureBases(run, x);
  }

  /**
   * The exception stub's frame: the CPU pushed [err] rip cs rflags rsp ss on the kernel stack,
   * read from the domain's system-area memory ({@code guest}, offset = va - KERNEL_BASE).
   */
  static void captureException(Vcpu v, MemorySegment guest, int vector, TrapFrame f, VextFrame x) {
    KvmRun run = v.kvmRun();
    MemorySegment rs = run.segment();
    long sp = rs.get(RUN_LONG, R_RSP) - GuestLayout.KERNEL_BASE;
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
    MemorySegment fs = f.segment();
    captureGprs(rs, fs);
    toFrame(rs, R_RCX, fs, F_RCX);
    fs.set(FRAME_LONG, F_RIP, guest.get(ValueLayout.JAVA_LONG, sp));
    // The CPU sets RF in the RFLAGS it pushes for a fault, so that the retried instruction does
    // not hit an instruction breakpoint again, and a trap's instruction has completed, which
    // clears RF. Who delivered the exception varies (the CPU, KVM injecting one it intercepted,
    // an emulator) and so does RF in practice; the frame states what the architecture does.
    long rflags = guest.get(ValueLayout.JAVA_LONG, sp + 16);
    fs.set(FRAME_LONG, F_RFLAGS, isFaultClass(vector) ? rflags | RFLAGS_RF : rflags & ~RFLAGS_RF);
    fs.set(FRAME_LONG, F_RSP, guest.get(ValueLayout.JAVA_LONG, sp + 24));
    fs.set(FRAME_LONG, F_TRAPNO, Trap.forVector(vector));
    fs.set(FRAME_LONG, F_ERR, err);
    fs.set(FRAME_LONG, F_ADDR, vector == 14 ? run.sreg(KvmSregs.CR2) : 0);
    captureBases(run, x);
  }

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
}
