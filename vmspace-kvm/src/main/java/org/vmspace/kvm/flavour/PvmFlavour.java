package org.vmspace.kvm.flavour;

import org.vmspace.kvm.guest.GuestLayout;
import org.vmspace.kvm.guest.SystemImage;
import org.vmspace.kvm.guest.X86Code;

/**
 * The PVM-style {@code /dev/kvm} of this project's machines (see KVM-ON-THIS-HOST.md): user code
 * runs natively on shadow page tables, CPL0 code is emulated, and a user {@code syscall} stays
 * at CPL3 and jumps to LSTAR.
 *
 * <ul>
 *   <li>LSTAR points at a user-executable trampoline whose first instruction is {@code out %al,
 *       $0x10}. User port I/O is checked against the TSS's I/O permission bitmap (contrary to
 *       the platform notes, whose probe TSS happened to allow low ports), so the TSS allows
 *       exactly port 0x10 to CPL3; every other port raises {@code #GP} natively. A guest's own
 *       {@code out} to port 0x10 is told apart by its RIP: the exit is trusted only at the RIP
 *       just after the trampoline's instruction (this host reports the RIP after an OUT). The
 *       run loop resumes the guest at RCX itself, so the trampoline never continues.
 *   <li>Each exception vector's stub is one emulated instruction, {@code out %al, $0x11}; the
 *       vector is told by the exit RIP, trusted only at CPL0.
 *   <li>SFMASK clears TF only, so a single-stepped {@code syscall} does not trap inside the
 *       trampoline; IF stays set as this host wants for user mode.
 * </ul>
 */
public final class PvmFlavour implements ExecutionFlavour {
  /** The RFLAGS trap flag. */
  private static final long TF = 0x100;

  private static final SystemImage.Stubs STUBS =
      new SystemImage.Stubs() {
        @Override
        public byte[] exceptionStub(int vector) {
          return new X86Code()
              .outAlImm8(GuestLayout.PORT_EXCEPTION) // exit: the RIP after it names the vector
              .hlt() // never reached: the run loop resumes user mode itself
              .jmpRel8(-3) // back to the hlt
              .toByteArray();
        }

        @Override
        public byte[] trampoline() {
          return new X86Code()
              .outAlImm8(GuestLayout.PORT_SYSCALL) // exit; the run loop resumes at RCX
              .hlt() // never reached; #GP at CPL3 if a guest jumps here
              .toByteArray();
        }

        @Override
        public boolean trampolineIsUser() {
          return true;
        }

        @Override
        public int userIoPort() {
          return GuestLayout.PORT_SYSCALL;
        }
      };

  @Override
  public String name() {
    return "pvm";
  }

  @Override
  public SystemImage.Stubs stubs() {
    return STUBS;
  }

  @Override
  public long sfmask() {
    return TF;
  }

  @Override
  public int classifyIoExit(int port, boolean out, long rip, int cpl) {
    if (!out) {
      return EXIT_UNTRUSTED;
    }
    if (port == GuestLayout.PORT_SYSCALL && cpl == 3 && rip == lstar() + 2) {
      return EXIT_SYSCALL;
    }
    if (port == GuestLayout.PORT_EXCEPTION && cpl == 0) {
      int vector = GuestLayout.exceptionVectorAt(rip - 2); // the out is the stub's first instruction
      if (vector >= 0) {
        return vector;
      }
    }
    return EXIT_UNTRUSTED;
  }

  @Override
  public boolean reportsRipAfterOut() {
    return true;
  }

  /**
   * A user {@code int $n} that the CPU would deliver as {@code #GP(n*8+2)} (every n but the
   * DPL-3 gates 3 and 4) comes back from PVM as {@code #UD} at the instruction, error code 0
   * (measured 2026-12-07, every n but 23 and 25, which PVM reports as {@code #GP(0)} after the
   * instruction, and 26, which it runs as CPUID); the service reports the {@code #GP} from the
   * code bytes (docs/reliability.md, pvm-int-n-is-ud).
   */
  @Override
  public boolean reportsIntNAsInvalidOpcode() {
    return true;
  }
}
