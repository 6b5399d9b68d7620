/**
 * The host system calls the virtual kernel makes on the guest's behalf (FFM downcalls), each
 * returning the result or {@code -errno}: guests are x86-64 Linux programs on an x86-64 Linux
 * host, so most structures (stat, dirent64, termios) pass through unchanged.
 */
package org.vmspace.vkernel.host;
