package org.vmspace.kvm.vcpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.vmspace.kvm.linux.Libc;

/**
 * The real-time signal that stops a running vCPU. It is blocked in every thread that runs
 * vCPUs, and only {@code KVM_SET_SIGNAL_MASK} unblocks it inside {@code KVM_RUN}: a kick makes
 * {@code KVM_RUN} return EINTR, the signal stays pending and is taken with {@code sigtimedwait},
 * and no signal handler ever runs (none could safely run Java code).
 *
 * <p>The number is {@code SIGRTMIN + 5} unless the system property {@code vmspace.kickSignal}
 * names another; the JVM itself uses no real-time signal.
 */
public final class KickSignal {
  private static final int NUMBER = chooseNumber();

  private KickSignal() {}

  private static int chooseNumber() {
    String configured = System.getProperty("vmspace.kickSignal");
    int n = configured != null ? Integer.parseInt(configured.trim()) : Libc.sigrtmin() + 5;
    if (n < Libc.sigrtmin() || n > 64) {
      throw new IllegalArgumentException("vmspace.kickSignal must be a real-time signal: " + n);
    }
    return n;
  }

  /** The signal number. */
  public static int number() {
    return NUMBER;
  }

  /** The kernel signal-mask bit of the signal. */
  public static long maskBit() {
    return 1L << (NUMBER - 1);
  }

  /**
   * Blocks the signal in the calling thread.
   *
   * @return the thread's kernel signal mask afterwards, without the kick signal: the mask to
   *     give {@code KVM_SET_SIGNAL_MASK}
   */
  public static long blockInCurrentThread() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment set = Libc.newSigset(arena);
      Libc.sigaddset(set, NUMBER);
      MemorySegment old = Libc.newSigset(arena);
      Libc.pthreadSigmask(Libc.SIG_BLOCK, set, old);
      return old.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0) & ~maskBit();
    }
  }
}
