/**
 * Sockets: AF_UNIX stream, datagram and seqpacket sockets over host sockets of the same type,
 * with the guest's names (paths in the guest's root, the abstract namespace of one kernel) kept
 * by the kernel and never seen by the host; AF_INET and AF_INET6 stream and datagram sockets over
 * host sockets of the same family under a {@link org.vmspace.vkernel.net.NetPolicy}. Nothing here blocks: calls that would wait fail with
 * EAGAIN and the system-call layer waits on {@link org.vmspace.vkernel.fs.FileDescription#pollFd}.
 *
 * <p>Descriptor passing (SCM_RIGHTS): the guest's open file descriptions are Java objects the
 * host cannot carry, so each message with descriptors carries, in a real host SCM_RIGHTS on the
 * same host send as its bytes, a token — the write end of a fresh host pipe — and {@link
 * org.vmspace.vkernel.net.InFlight} keeps a reference to each description under the pipe's inode
 * until a receive brings the token back. The host attaches the token to exactly its message, so
 * which receive gets the descriptors (the first that reads bytes of it; a stream read stops after
 * it; a peek gets copies) is Linux's own decision, over stream, datagram and seqpacket sockets
 * alike. A message the host drops unread (its socket closed) closes the token; the pipe's read
 * end then reports the hang-up and the descriptions are released. {@link
 * org.vmspace.vkernel.net.Ancillary} reads and writes the guest's control messages.
 */
package org.vmspace.vkernel.net;
