/**
 * The Linux x86-64 system calls the virtual kernel emulates: the table, the dispatcher, the
 * handlers by area, and the strace-style trace. Internal to the kernel.
 */
package org.vmspace.vkernel.syscall;
