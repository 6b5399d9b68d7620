/**
 * A virtual kernel in Java, in the DragonFly style, built only on the public vmspace API: Linux
 * x86-64 processes run in vmspaces, each guest thread is a Java platform thread running the
 * user-return loop around {@code ctl(RUN)}, and the kernel emulates the system calls.
 */
package org.vmspace.vkernel;
