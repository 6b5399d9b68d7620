package org.vmspace.kvm.flavour;

import org.vmspace.kvm.guest.GuestLayout;
import org.vmspace.kvm.guest.SystemImage;
import org.vmspace.kvm.guest.X86Code;

/**
 * The standard {@code /dev/kvm} of hosts with hardware virtualization (Intel VMX, AMD SVM):
 * guest CPL0 code runs natively, a user {@code syscall} enters CPL0 at LSTAR, user port I/O is
 * checked against the TSS's I/O permission bitmap, and the guest's own page tables are walked by
 * the hardware through nested paging (or by KVM's shadow MMU where there is none).
 *
 * <ul>
 *   <li>LSTAR points at a supervisor-only stub whose only instruction that runs is {@code out
 *       %al, $0x10}: it touches no stack (the user's RSP is still loaded and untrusted) and no
 *       register, so the exit hands the run loop the user's registers with RCX = the user's
 *       RIP and R11 = the user's RFLAGS. The run loop re-enters user mode itself through the
 *       sync registers; the stub never continues. SFMASK clears IF, TF, DF, AC and NT, as
 *       Linux's does, so nothing interrupts or single-steps the stub.
 *   <li>The TSS denies every port to CPL3: a guest's {@code in} or {@code out} raises {@code
 *       #GP} natively and arrives as {@code T_PROTFLT} through the IDT, as on any x86.
 *   <li>Each exception vector's stub is {@code out %al, $0x11} at CPL0, reached through the
 *       IDT with the hardware frame on the vCPU's kernel stack; the vector is told by the RIP.
 *   <li>A standard KVM reports the RIP of the {@code out} itself at the exit (and would skip it
 *       on the next entry unless RIP changes, which the run loop sees to); the exits are trusted
 *       at that RIP or just after it, and only at CPL0.
 *   <li>Revocations: with nested paging the stores are made from the host and every vCPU's
 *       TLB is flushed ({@link #needsTlbShootdown()}, {@link #revokesWithHostStores()}); on
 *       hosts without it they are guest-side stores, which are what keeps KVM's shadow MMU
 *       correct, and the TLBs are flushed as well.
 * </ul>
 */
public final class StandardFlavour implements ExecutionFlavour {
  /** RFLAGS bits SYSCALL clears: TF, IF, DF, NT, AC (Linux's SFMASK, without IOPL). */
  private static final long SFMASK = 0x100L | 0x200L | 0x400L | 0x4000L | 0x40000L;

  private static final SystemImage.Stubs STUBS =
      new SystemImage.Stubs() {
        @Override
        public byte[] exceptionStub(int vector) {
          return new X86Code()
              .outAlImm8(GuestLayout.PORT_EXCEPTION) // exit: the RIP names the vector
              .hlt() // never reached: the run loop resumes user mode itself
              .jmpRel8(-3) // back to the hlt
              .toByteArray();
        }

        @Override
        public byte[] trampoline() {
          return new X86Code()
              .outAlImm8(GuestLayout.PORT_SYSCALL) // exit at CPL0; the run loop resumes at RCX
              .hlt() // never reached
              .jmpRel8(-3)
              .toByteArray();
        }

        @Override
        public boolean trampolineIsUser() {
          return false;
        }

        @Override
        public int userIoPort() {
          return -1;
        }
      };

  @Override
  public String name() {
    return "standard";
  }

  @Override
  public SystemImage.Stubs stubs() {
    return STUBS;
  }

  @Override
  public long sfmask() {
    return SFMASK;
  }

  @Override
  public int classifyIoExit(int port, boolean out, long rip, int cpl) {
    if (!out || cpl != 0) {
      return EXIT_UNTRUSTED;
    }
    if (port == GuestLayout.PORT_SYSCALL && isOutExit(rip, lstar())) {
      return EXIT_SYSCALL;
    }
    if (port == GuestLayout.PORT_EXCEPTION) {
      // The out is the stub's first instruction: RIP is at it, or after it (2 bytes).
      int vector = GuestLayout.exceptionVectorAt(rip);
      if (vector < 0) {
        vector = GuestLayout.exceptionVectorAt(rip - 2);
      }
      if (vector >= 0) {
        return vector;
      }
    }
    return EXIT_UNTRUSTED;
  }

  @Override
  public boolean reportsRipAfterOut() {
    return false;
  }

  /** At the {@code out} (what KVM reports) or after it: both addresses are the stub's own. */
  @Override
  public boolean isOutExit(long rip, long outAddress) {
    return rip == outAddress || rip == outAddress + 2;
  }

  @Override
  public boolean syscallExitsAtCpl0() {
    return true;
  }

  @Override
  public boolean needsTlbShootdown() {
    return true;
  }

  /** With nested paging ({@link NestedPaging#hostStoresAllowed()}); never under shadow paging. */
  @Override
  public boolean revokesWithHostStores() {
    return NestedPaging.hostStoresAllowed();
  }
}
