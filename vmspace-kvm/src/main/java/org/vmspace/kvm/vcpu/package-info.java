/**
 * vCPUs as the backend uses them: set up for user mode, bound to the thread that runs them
 * (signal mask, POSIX timer), pooled across threads with a maximum, preempted by a blocked
 * real-time signal that only {@code KVM_RUN} unblocks, and carrying each guest thread's x87/SSE/
 * AVX state between runs.
 */
package org.vmspace.kvm.vcpu;
