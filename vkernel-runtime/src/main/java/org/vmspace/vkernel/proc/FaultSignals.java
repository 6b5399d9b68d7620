package org.vmspace.vkernel.proc;

import org.vmspace.api.Prot;
import org.vmspace.api.Trap;
import org.vmspace.api.TrapFrame;
import org.vmspace.vkernel.mem.AddressSpace;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.Signals;

/**
 * The signal Linux sends for a guest trap, with its si_code and si_addr, as its x86 fault
 * handlers choose them.
 *
 * <p>Guarantees: a pure function of the trap frame and the address space's mappings; every trap
 * number maps to a signal (the ones with no entry of their own are SIGSEGV with SI_KERNEL).
 * Sending it is the caller's.
 */
final class FaultSignals {
  private FaultSignals() {}

  /** Whether a mapping's protection allows the access a page fault's error code describes. */
  private static boolean permits(AddressSpace.Region r, long err) {
    int needed = (err & Trap.PF_WRITE) != 0 ? Prot.PROT_WRITE : (err & Trap.PF_INSTR) != 0 ? Prot.PROT_EXEC : Prot.PROT_READ;
    return (r.prot() & needed) != 0;
  }

  /** The siginfo of the signal for the trap in {@code frame}; {@code mm} may be null. */
  static SigInfo forTrap(TrapFrame frame, AddressSpace mm) {
    long trapno = frame.trapno();
    int sig;
    int code;
    long addr = frame.rip();
    switch ((int) trapno) {
      case Trap.T_PAGEFLT -> {
        addr = frame.addr();
        AddressSpace.Region r = mm == null ? null : mm.regionAt(addr);
        if (r != null && permits(r, frame.err()) && r.backing() != null && (frame.err() & Trap.PF_PRESENT) == 0) {
          // An allowed access to a file or memory object page the backend could not provide:
          // past the end of what backs the mapping (a short or truncated file).
          sig = Signals.SIGBUS;
          code = 2; // BUS_ADRERR
        } else {
          // As Linux: an address inside a mapping whose protection forbids the access is
          // SEGV_ACCERR (PROT_NONE included, present or not); outside every mapping SEGV_MAPERR.
          sig = Signals.SIGSEGV;
          code = r != null && !permits(r, frame.err()) || (frame.err() & Trap.PF_PRESENT) != 0
              ? SigInfo.SEGV_ACCERR : SigInfo.SEGV_MAPERR;
        }
      }
      case Trap.T_PRIVINFLT -> {
        sig = Signals.SIGILL;
        code = 2; // ILL_ILLOPN
      }
      case Trap.T_BPTFLT -> {
        sig = Signals.SIGTRAP;
        code = SigInfo.SI_KERNEL;
        addr = 0;
      }
      case Trap.T_TRCTRAP -> {
        sig = Signals.SIGTRAP;
        code = 2; // TRAP_TRACE
      }
      case Trap.T_DIVIDE -> {
        sig = Signals.SIGFPE;
        code = 1; // FPE_INTDIV
      }
      case Trap.T_ARITHTRAP, Trap.T_XMMFLT, Trap.T_FPOPFLT -> {
        sig = Signals.SIGFPE;
        code = 0;
      }
      case Trap.T_ALIGNFLT -> {
        sig = Signals.SIGBUS;
        code = 1; // BUS_ADRALN
      }
      default -> {
        // #GP, #SS, #NP, #TS, #OF, #BR, a double fault: Linux sends SIGSEGV with SI_KERNEL.
        sig = Signals.SIGSEGV;
        code = SigInfo.SI_KERNEL;
        addr = 0;
      }
    }
    return SigInfo.fault(sig, code, addr);
  }
}
