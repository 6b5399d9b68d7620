package org.vmspace.vkernel.net;

/**
 * One socket's SO_RCVTIMEO and SO_SNDTIMEO, in jiffies of {@link SocketTimeout#HZ} (0: none),
 * and the deadlines they give a call. Thread-safe: the values are volatile, set by setsockopt
 * while other threads may wait on the socket (a wait uses the value it started with, as Linux's).
 */
public final class SocketTimeouts {
  private volatile long receive;
  private volatile long send;

  /** SO_RCVTIMEO in jiffies (0: none). */
  public long receive() {
    return receive;
  }

  /** Sets SO_RCVTIMEO in jiffies (0: none). */
  public void receive(long jiffies) {
    receive = jiffies;
  }

  /** SO_SNDTIMEO in jiffies (0: none). */
  public long send() {
    return send;
  }

  /** Sets SO_SNDTIMEO in jiffies (0: none). */
  public void send(long jiffies) {
    send = jiffies;
  }

  /** A {@link System#nanoTime()} deadline for a wait to receive starting now, or 0 for none. */
  public long receiveDeadline() {
    return deadline(receive);
  }

  /** A {@link System#nanoTime()} deadline for a wait to send starting now, or 0 for none. */
  public long sendDeadline() {
    return deadline(send);
  }

  /** A nanoTime deadline for a timeout in jiffies, or 0 for none. */
  public static long deadline(long jiffies) {
    return jiffies == 0 ? 0 : System.nanoTime() + SocketTimeout.nanos(jiffies);
  }
}
