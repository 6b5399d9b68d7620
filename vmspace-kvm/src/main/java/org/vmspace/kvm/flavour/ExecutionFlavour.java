package org.vmspace.kvm.flavour;

import org.vmspace.kvm.guest.GuestLayout;
import org.vmspace.kvm.guest.SystemImage;

/**
 * The flavour-specific part of running guests: the stubs, exit recognition and the syscall MSRs.
 * Everything else (page tables, frames, the run loop, revocation through guest-side stores) is
 * shared. Implementations are stateless and thread-safe.
 */
public interface ExecutionFlavour {
  /** A trusted exit: the guest executed {@code syscall}. */
  int EXIT_SYSCALL = -1;
  /** Not one of the stubs' exits: a guest's own port I/O. */
  int EXIT_UNTRUSTED = -2;

  /** A short name, e.g. {@code pvm}. */
  String name();

  /** The stubs to write into the system image. */
  SystemImage.Stubs stubs();

  /** The value for MSR_LSTAR: where {@code syscall} goes, the system image's trampoline page. */
  default long lstar() {
    return GuestLayout.kernelVa(GuestLayout.TRAMPOLINE);
  }

  /**
   * The value for MSR_SFMASK: the RFLAGS bits {@code syscall} clears (the guest's own flags are
   * restored from R11 by the run loop, whatever is cleared here).
   */
  long sfmask();

  /**
   * Classifies a {@code KVM_EXIT_IO}.
   *
   * @param port the port
   * @param out whether it is an OUT
   * @param rip the RIP KVM reports at the exit
   * @param cpl the privilege level at the exit (the CS selector's RPL)
   * @return {@link #EXIT_SYSCALL}, an exception vector 0..31 for the exception stub's exit, or
   *     {@link #EXIT_UNTRUSTED}
   */
  int classifyIoExit(int port, boolean out, long rip, int cpl);

  /**
   * Whether KVM reports the RIP after the instruction at an OUT exit (this host) rather than at
   * it (standard KVM). IN exits report the instruction itself on both.
   */
  boolean reportsRipAfterOut();

  /**
   * Whether this host reports {@code int $n} through a DPL-0 gate or past the IDT's limit as
   * {@code #UD} (PVM) where the CPU raises {@code #GP(n*8+2)}, so that the service must tell the
   * instruction by its bytes and report the architecture's fault.
   */
  default boolean reportsIntNAsInvalidOpcode() {
    return false;
  }

  /** Whether an OUT exit at {@code rip} is the exit of the 2-byte {@code out} at {@code outAddress}. */
  default boolean isOutExit(long rip, long outAddress) {
    return rip == outAddress + (reportsRipAfterOut() ? 2 : 0);
  }

  /**
   * Whether the syscall exit happens at CPL0 (the stub runs in kernel mode), so the vCPU's
   * segments must be set back to user ones before the next entry.
   */
  default boolean syscallExitsAtCpl0() {
    return false;
  }

  /**
   * Whether the guest-side stores of a revocation leave other vCPUs' TLBs stale, so that every
   * vCPU must flush before it next runs guest code and running ones must be stopped and flushed
   * before the revocation returns. True with nested paging (the hardware walks the tables and
   * caches what it walked); false where KVM shadows the tables and zaps its own copies on every
   * guest-side store, as on the PVM hosts.
   */
  default boolean needsTlbShootdown() {
    return false;
  }

  /**
   * Whether a revocation may be made by host-side stores into the tables followed by the TLB
   * shootdown, with no maintenance vCPU run: only where the hardware walks the tables (nested
   * paging), since a shadowing KVM never sees a host-side store. False by default.
   */
  default boolean revokesWithHostStores() {
    return false;
  }
}
