/**
 * Processes and guest threads: each guest thread is a Java platform thread running the
 * user-return loop around {@code ctl(RUN)} (run the guest, handle its system call, trap or
 * fault, deliver signals, run again), as DragonFly's vkernel did with its lwps.
 */
package org.vmspace.vkernel.proc;
