package org.vmspace.vkernel.net;

import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * SO_RCVTIMEO and SO_SNDTIMEO values as Linux keeps them: in jiffies of a 250 Hz clock (Debian's
 * CONFIG_HZ), rounded up from the guest's {@code struct timeval}, so that getsockopt reports the
 * value rounded as on the machines the guests come from (a 1 us timeout reads back as 4000 us).
 * 0 means none. Pure functions.
 */
public final class SocketTimeout {
  /** The clock rate timeouts are counted in. */
  public static final long HZ = 250;
  private static final long USEC_PER_JIFFY = 1_000_000 / HZ;
  /** Linux's MAX_SCHEDULE_TIMEOUT / HZ - 1: seconds past which a timeout is "forever" (0). */
  private static final long MAX_SECONDS = Long.MAX_VALUE / HZ - 1;

  private SocketTimeout() {}

  /**
   * sock_set_timeout: the jiffies for a timeval.
   *
   * @return 0 (no timeout) for {0, 0}, for a negative tv_sec (Linux then sets 0 and warns) and
   *     for a value too large to count
   * @throws SyscallError EDOM for tv_usec outside [0, 1000000)
   */
  public static long jiffies(long sec, long usec) {
    if (usec < 0 || usec >= 1_000_000) {
      throw new SyscallError(LinuxErrno.EDOM);
    }
    if (sec < 0 || (sec == 0 && usec == 0) || sec >= MAX_SECONDS) {
      return 0;
    }
    return sec * HZ + (usec + USEC_PER_JIFFY - 1) / USEC_PER_JIFFY;
  }

  /** sock_get_timeout: {tv_sec, tv_usec} for a value in jiffies (0: {0, 0}). */
  public static long[] timeval(long jiffies) {
    return new long[] {jiffies / HZ, (jiffies % HZ) * 1_000_000 / HZ};
  }

  /**
   * The timeout in nanoseconds (0: none), at most {@link #LONGEST_NANOS}: a timeout of years
   * (up to Linux's limit of about 10^16 s) waits as long as a deadline can be counted.
   */
  public static long nanos(long jiffies) {
    return jiffies > LONGEST_NANOS / NANOS_PER_JIFFY ? LONGEST_NANOS : jiffies * NANOS_PER_JIFFY;
  }

  private static final long NANOS_PER_JIFFY = 1_000_000_000L / HZ;
  /** About 73 years: far enough that {@code System.nanoTime() + LONGEST_NANOS} cannot wrap. */
  public static final long LONGEST_NANOS = Long.MAX_VALUE / 4;
}
