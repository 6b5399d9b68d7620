/**
 * The Linux x86-64 system calls the virtual kernel emulates. Internal to the kernel.
 *
 * <p>{@code Linux64} is the table, as gVisor's {@code linux64.go}: one line a call, in number
 * order, with its name, its trace argument spec, whether its result is an address, and its
 * handler, a {@code static long name(Call c)} method of its family's file. {@link
 * org.vmspace.vkernel.syscall.Syscalls} dispatches through it (a number not in it is ENOSYS) and
 * {@link org.vmspace.vkernel.syscall.Trace} prints calls as strace does; {@link
 * org.vmspace.vkernel.syscall.Call} is one call's thread, process and arguments.
 *
 * <p>The handlers, a file a family:
 * <ul>
 *   <li>descriptors: {@code ReadWriteCalls} (read, write, their positioned and vectored forms,
 *       lseek, the syncs), {@code DescriptorCalls} (close, dup, fcntl), {@code PipeCalls},
 *       {@code PollCalls} (poll, select), {@code IoctlCalls}, {@code LockCalls} (fcntl locks,
 *       flock), {@code SocketFamilies} (each socket call to its family's handlers, sendmmsg
 *       and recvmmsg), {@code SocketCalls} and {@code SocketMessages} (AF_UNIX),
 *       {@code InetCalls} and {@code InetMessages} (AF_INET and AF_INET6);
 *   <li>paths: {@code FileCalls} (open, stat, access, readlink, statfs, and the resolution
 *       helpers), {@code DirectoryCalls} (cwd, mkdir, unlink, rename, link, getdents),
 *       {@code AttributeCalls} (chmod, chown, times, truncate, umask), {@code SpecialFiles}
 *       (FIFOs and device nodes);
 *   <li>memory: {@code MemoryCalls} (mmap, brk and the rest of the address space);
 *   <li>processes: {@code ProcessCalls} (clone, execve, exit, wait, kill), {@code IdCalls}
 *       (pids, uids, process groups, sessions), {@code ResourceCalls} (rlimits, usage, uname,
 *       sysinfo), {@code PrctlCalls} (arch_prctl, prctl), {@code SchedCalls} (affinity,
 *       priority, getcpu), {@code FutexCalls};
 *   <li>signals and time: {@code SignalCalls} (actions, masks, sigreturn, waits, the alarm
 *       timer), {@code TimeCalls} (clocks, sleeps, getrandom).
 * </ul>
 *
 * <p>Handlers decode arguments and write results; the work is the kernel's ({@code proc},
 * {@code fs}, {@code mem}). They throw {@link org.vmspace.vkernel.sys.SyscallError} for
 * {@code -errno}, and return {@code Syscalls.NO_RETURN} where rax must stay as it is.
 */
package org.vmspace.vkernel.syscall;
