package org.vmspace.vkernel.net;

/**
 * A socket with Linux's SO_RCVTIMEO and SO_SNDTIMEO ({@link SocketTimeouts}). The receive
 * timeout bounds every wait for data or a connection (read, recv*, accept), the send timeout
 * every wait for room or a connection (write, send*, connect); the system calls enforce them,
 * since the host socket never blocks.
 */
public interface TimedSocket {
  /** This socket's timeouts. */
  SocketTimeouts timeouts();
}
