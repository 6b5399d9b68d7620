/**
 * The process model, split as gVisor's {@code pkg/sentry/kernel} is: a {@link
 * org.vmspace.vkernel.proc.Task} per guest thread (a Java platform thread running the
 * user-return loop around {@code ctl(RUN)}: run the guest, handle its system call, trap or
 * fault, deliver signals, run again, as DragonFly's vkernel did with its lwps), a {@link
 * org.vmspace.vkernel.proc.ThreadGroup} per process, and the {@link
 * org.vmspace.vkernel.proc.Kernel} holding the process table. A task's own state is split the
 * same way: {@code SignalState} (blocked and pending signals), {@code SignalDelivery} (handler
 * frames, sigaltstack, rt_sigreturn, system-call restart), {@code Blocker} (blocking waits and
 * wake-ups, gVisor's {@code task_block.go}) and {@code FaultSignals} (the signal for a trap). The
 * operations on them live in one file each: {@code TaskClone} (fork, vfork, clone), {@code
 * TaskExec}, {@code TaskExit} (exit, zombies, wait), {@code TaskSignals} (kill, tgkill,
 * process-directed signals, the alarm) and {@code Sessions} (process groups, sessions, the
 * foreground group).
 *
 * <p>The kernel reaches the system call handlers only through {@link
 * org.vmspace.vkernel.proc.SyscallTable}, so this package does not depend on {@code syscall}.
 */
package org.vmspace.vkernel.proc;
