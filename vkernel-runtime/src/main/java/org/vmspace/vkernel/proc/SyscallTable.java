package org.vmspace.vkernel.proc;

/**
 * What the kernel needs of a system call table: to handle the call a task's frame holds. The
 * kernel knows the table only through this interface (defined here, implemented by the
 * {@code syscall} package), so the process model does not depend on the handlers that use it.
 *
 * <p>As gVisor's {@code kernel.SyscallTable}, looked up by the task on each system call exit.
 */
@FunctionalInterface
public interface SyscallTable {
  /**
   * Handles the system call in {@code t}'s frame ({@code rax} the number, the arguments in
   * {@code rdi rsi rdx rcx r8 r9}): runs its handler, puts the result or {@code -errno} in
   * {@code rax} (unless the call does not return, as execve or rt_sigreturn), and traces it.
   * Runs on {@code t}'s own Java thread; never throws for a guest's bad arguments.
   */
  void dispatch(Task t);

  /** The name of system call {@code nr} (for statistics and events); {@code syscall_NNN} here. */
  default String name(long nr) {
    return "syscall_" + nr;
  }
}
