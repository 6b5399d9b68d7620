/**
 * The virtual kernel's own accounting: system calls per number with their handling time, guest
 * faults turned into signals ({@link org.vmspace.vkernel.stats.SyscallCounters}, one per task,
 * summed by {@link org.vmspace.vkernel.stats.KernelStats}), the {@code vkernel run --stats}
 * table ({@link org.vmspace.vkernel.stats.StatsReport}) and the system-call JFR event. A leaf:
 * it depends on no other package of the runtime.
 */
package org.vmspace.vkernel.stats;
