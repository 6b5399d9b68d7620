package org.vmspace.vkernel.fs;

import java.lang.foreign.MemorySegment;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * A timerfd_create(2) timer. It is a host timerfd on the same clock (the guest's clocks are the
 * host's), non-blocking on the host (a blocking read waits for readiness, so a signal reaches
 * the reading thread): absolute and relative expirations, intervals, the 8-byte expiration count
 * a read returns and resets, TFD_TIMER_CANCEL_ON_SET (ECANCELED) and readiness through poll,
 * select and epoll are Linux's own.
 */
public final class TimerFd extends HostFileDescription {
  /** sizeof(struct itimerspec). */
  public static final int ITIMERSPEC_SIZE = 32;
  /** The flags timerfd_create accepts: TFD_NONBLOCK, TFD_CLOEXEC. */
  public static final int CREATE_FLAGS = Host.O_NONBLOCK | Host.O_CLOEXEC;
  /** The flags timerfd_settime accepts: TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET. */
  public static final int SETTIME_FLAGS = 1 | 2;

  private TimerFd(int fd, int statusFlags) {
    super(fd, "anon_inode:[timerfd]", statusFlags, true, false);
  }

  /**
   * A new disarmed timer.
   *
   * @throws SyscallError EINVAL for unknown flags or clocks, EPERM for the alarm clocks (no
   *     CAP_WAKE_ALARM), EMFILE/ENFILE/ENOMEM if the host has no room
   */
  public static TimerFd create(int clockId, int flags) {
    if ((flags & ~CREATE_FLAGS) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    // The host checks the clock (EINVAL, or EPERM for the alarm clocks) exactly as Linux does.
    int fd = Host.timerfdCreate(clockId, Host.O_NONBLOCK | Host.O_CLOEXEC);
    if (fd < 0) {
      throw new SyscallError(-fd, "timerfd_create");
    }
    return new TimerFd(fd, Host.O_RDWR | (flags & Host.O_NONBLOCK));
  }

  /**
   * Checks timerfd_settime's flags and new value as Linux does before it looks at the
   * descriptor: unknown flags, a negative second or nanoseconds outside [0, 999999999] in
   * either field are EINVAL.
   *
   * @param value a 32-byte itimerspec: interval then value, each seconds and nanoseconds
   * @throws SyscallError EINVAL
   */
  public static void checkSetTime(int flags, MemorySegment value) {
    if ((flags & ~SETTIME_FLAGS) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    for (int off = 0; off < ITIMERSPEC_SIZE; off += 16) {
      long sec = value.get(java.lang.foreign.ValueLayout.JAVA_LONG, off);
      long nsec = value.get(java.lang.foreign.ValueLayout.JAVA_LONG, off + 8);
      if (sec < 0 || Long.compareUnsigned(nsec, 999_999_999L) > 0) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
    }
  }

  /**
   * Arms or disarms the timer from a 32-byte itimerspec; fills {@code old} with the previous
   * setting unless it is NULL.
   *
   * @throws SyscallError EINVAL for unknown flags, nanoseconds out of range, or
   *     TFD_TIMER_CANCEL_ON_SET on a timer that is not an absolute CLOCK_REALTIME one
   */
  public void setTime(int flags, MemorySegment value, MemorySegment old) {
    if ((flags & ~SETTIME_FLAGS) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    check(Host.timerfdSettime(hostFd(), flags, value, old));
  }

  /** Fills {@code value} (32 bytes) with the time to the next expiration and the interval. */
  public void getTime(MemorySegment value) {
    check(Host.timerfdGettime(hostFd(), value));
  }
}
