package org.vmspace.api;

/**
 * Why {@code ctl(RUN)} returned. Every run reports exactly one of these, together with the
 * {@link TrapFrame#trapno() trapno} in the frame.
 *
 * <p>The first four are DragonFly's {@code VMSPACE_*} result codes (defined there, never
 * produced); {@link #INTERRUPTED} is this project's addition for a run stopped by {@link
 * VmspaceService#interrupt(Thread)}.
 */
public enum RunResult {
  /** {@code VMSPACE_PAGEFAULT}: a page fault the service could not resolve; trapno {@link Trap#T_PAGEFLT}. */
  PAGEFAULT(1),
  /** {@code VMSPACE_TIMEOUT}: the run's timeout expired; trapno 0. */
  TIMEOUT(2),
  /** {@code VMSPACE_TRAP}: any other exception; trapno says which. */
  TRAP(3),
  /** {@code VMSPACE_SYSCALL}: the guest executed {@code syscall}; trapno {@link Trap#T_FAST_SYSCALL}. */
  SYSCALL(4),
  /** Another thread interrupted the run; trapno 0. */
  INTERRUPTED(5);

  private final int code;

  RunResult(int code) {
    this.code = code;
  }

  /** The numeric result code ({@code VMSPACE_PAGEFAULT} is 1, ... {@code INTERRUPTED} is 5). */
  public int code() {
    return code;
  }

  /** The result code for a trap number: {@link #SYSCALL}, {@link #PAGEFAULT} or {@link #TRAP}. */
  public static RunResult forTrap(long trapno) {
    if (trapno == Trap.T_FAST_SYSCALL) {
      return SYSCALL;
    }
    return trapno == Trap.T_PAGEFLT ? PAGEFAULT : TRAP;
  }
}
