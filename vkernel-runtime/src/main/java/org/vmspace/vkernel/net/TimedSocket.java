package org.vmspace.vkernel.net;

/**
 * A socket with Linux's SO_RCVTIMEO and SO_SNDTIMEO, kept in jiffies of {@link
 * SocketTimeout#HZ} (0: none). The receive timeout bounds every wait for data or a connection
 * (read, recv*, accept), the send timeout every wait for room or a connection (write, send*,
 * connect); the system calls enforce them, since the host socket never blocks.
 */
public interface TimedSocket {
  /** SO_RCVTIMEO in jiffies (0: none). */
  long rcvTimeo();

  /** Sets SO_RCVTIMEO in jiffies (0: none). */
  void rcvTimeo(long jiffies);

  /** SO_SNDTIMEO in jiffies (0: none). */
  long sndTimeo();

  /** Sets SO_SNDTIMEO in jiffies (0: none). */
  void sndTimeo(long jiffies);
}
