/**
 * The libc and Linux calls the backend makes, as FFM downcalls: file descriptors, memory
 * mappings, memfd, signals and POSIX timers. Failures become {@link
 * org.vmspace.kvm.linux.LinuxException}s naming the call and the errno. Nothing here knows
 * about KVM or vmspaces.
 */
package org.vmspace.kvm.linux;
