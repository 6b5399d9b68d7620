/**
 * Sockets: AF_UNIX stream, datagram and seqpacket sockets over host sockets of the same type,
 * with the guest's names (paths in the guest's root, the abstract namespace of one kernel) kept
 * by the kernel and never seen by the host; AF_INET and AF_INET6 stream and datagram sockets over
 * host sockets of the same family under a {@link org.vmspace.vkernel.net.NetPolicy}. Nothing here blocks: calls that would wait fail with
 * EAGAIN and the system-call layer waits on {@link org.vmspace.vkernel.fs.FileDescription#pollFd}.
 */
package org.vmspace.vkernel.net;
