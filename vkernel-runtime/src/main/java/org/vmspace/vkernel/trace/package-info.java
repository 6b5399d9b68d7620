/** The strace-style trace of system calls, signals and process events ({@code vkernel run --trace}). */
package org.vmspace.vkernel.trace;
