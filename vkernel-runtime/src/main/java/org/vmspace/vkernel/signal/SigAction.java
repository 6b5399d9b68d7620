package org.vmspace.vkernel.signal;

/**
 * A signal's disposition ({@code struct kernel_sigaction} on x86-64: handler, flags, restorer,
 * mask).
 *
 * @param handler SIG_DFL (0), SIG_IGN (1) or the handler's address
 */
public record SigAction(long handler, long flags, long restorer, long mask) {
  public static final long SIG_DFL = 0;
  public static final long SIG_IGN = 1;
  public static final long SA_NOCLDSTOP = 0x1;
  public static final long SA_NOCLDWAIT = 0x2;
  public static final long SA_SIGINFO = 0x4;
  public static final long SA_RESTORER = 0x04000000;
  public static final long SA_ONSTACK = 0x08000000;
  public static final long SA_RESTART = 0x10000000;
  public static final long SA_NODEFER = 0x40000000;
  public static final long SA_RESETHAND = 0x80000000L;
  public static final SigAction DEFAULT = new SigAction(SIG_DFL, 0, 0, 0);

  /** Whether delivering the signal does nothing. */
  public boolean ignores(int sig) {
    return handler == SIG_IGN
        || (handler == SIG_DFL && Signals.defaultAction(sig) == Signals.Default.IGNORE);
  }
}
