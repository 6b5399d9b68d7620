package org.vmspace.vkernel.syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.vmspace.vkernel.fs.EventFd;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.TimerFd;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.proc.SignalFd;
import org.vmspace.vkernel.signal.SignalFdInfo;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * eventfd, eventfd2, timerfd_create, timerfd_settime, timerfd_gettime, signalfd and signalfd4.
 * The descriptors are {@link EventFd}, {@link TimerFd} and {@link SignalFd}; their reads, writes and readiness go through the generic
 * paths ({@link ReadWriteCalls}, {@link PollCalls}, {@link EpollCalls}), which wait for a
 * blocking read with the thread's wake descriptor, so a signal ends the wait with EINTR or
 * restarts the read (ERESTARTSYS) as on Linux.
 */
final class EventCalls {
  private EventCalls() {}

  static long eventfd(Call c) {
    return c.fds().install(EventFd.create(c.i(0), 0), 0, false);
  }

  static long eventfd2(Call c) {
    int flags = c.i(1);
    return c.fds().install(EventFd.create(c.i(0), flags), 0, (flags & Host.O_CLOEXEC) != 0);
  }

  static long timerfdCreate(Call c) {
    int flags = c.i(1);
    return c.fds().install(TimerFd.create(c.i(0), flags), 0, (flags & Host.O_CLOEXEC) != 0);
  }

  static long timerfdSettime(Call c) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment value = a.allocate(TimerFd.ITIMERSPEC_SIZE, 8);
      // Linux copies the new value in and checks it and the flags before it looks at the
      // descriptor: EFAULT, then EINVAL, then EBADF.
      c.mem().read(c.a(2), value, 0, TimerFd.ITIMERSPEC_SIZE);
      TimerFd.checkSetTime(c.i(1), value);
      MemorySegment old = c.a(3) == 0 ? MemorySegment.NULL : a.allocate(TimerFd.ITIMERSPEC_SIZE, 8);
      timer(c).setTime(c.i(1), value, old);
      if (c.a(3) != 0) {
        c.mem().write(c.a(3), old, 0, TimerFd.ITIMERSPEC_SIZE);
      }
    }
    return 0;
  }

  static long timerfdGettime(Call c) {
    TimerFd t = timer(c);
    try (Arena a = Arena.ofConfined()) {
      MemorySegment value = a.allocate(TimerFd.ITIMERSPEC_SIZE, 8);
      t.getTime(value);
      c.mem().write(c.a(1), value, 0, TimerFd.ITIMERSPEC_SIZE);
    }
    return 0;
  }

  static long signalfd(Call c) {
    return signalfd(c, 0);
  }

  static long signalfd4(Call c) {
    return signalfd(c, c.i(3));
  }

  /**
   * signalfd4(ufd, mask, sizemask, flags) in Linux's order: unknown flags, then a size other
   * than sizeof(sigset_t), are EINVAL; then the mask is read (EFAULT); then fd -1 makes a new
   * descriptor and any other must be an open (EBADF) signalfd (EINVAL) whose mask is replaced.
   */
  private static long signalfd(Call c, int flags) {
    if ((flags & ~(SignalFdInfo.SFD_NONBLOCK | SignalFdInfo.SFD_CLOEXEC)) != 0 || c.a(2) != 8) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    long mask = c.mem().readLong(c.a(1));
    int ufd = c.i(0);
    if (ufd == -1) {
      SignalFd s = SignalFd.create(c.process, mask, flags);
      return c.fds().install(s, 0, (flags & SignalFdInfo.SFD_CLOEXEC) != 0);
    }
    if (!(c.fds().get(ufd) instanceof SignalFd s)) {
      throw new SyscallError(LinuxErrno.EINVAL, "not a signalfd");
    }
    s.mask(mask);
    return ufd;
  }

  private static TimerFd timer(Call c) {
    FileDescription d = c.fd(0);
    if (!(d instanceof TimerFd t)) {
      throw new SyscallError(LinuxErrno.EINVAL, "not a timerfd");
    }
    return t;
  }
}
