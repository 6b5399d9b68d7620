package org.vmspace.vkernel.fs;

import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * An eventfd(2) counter. The counter is a host eventfd, non-blocking on the host (a blocking
 * read or write is emulated by waiting for readiness, so a signal reaches the waiting thread),
 * so its semantics are Linux's own: 8-byte reads and writes (EINVAL when shorter), EFD_SEMAPHORE
 * reads of 1, a write of 0xffffffffffffffff refused with EINVAL, a write that would pass
 * 0xfffffffffffffffe waiting (or EAGAIN). Readiness (poll, select, epoll, including edge
 * triggering and EPOLLONESHOT) is the host descriptor's.
 */
public final class EventFd extends HostFileDescription {
  /** EFD_SEMAPHORE. */
  public static final int EFD_SEMAPHORE = 1;
  /** The flags eventfd2 accepts: EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC. */
  public static final int VALID_FLAGS = EFD_SEMAPHORE | Host.O_NONBLOCK | Host.O_CLOEXEC;

  private EventFd(int fd, int statusFlags) {
    super(fd, "anon_inode:[eventfd]", statusFlags, true, false);
  }

  /**
   * A new counter.
   *
   * @param initial the initial value (an unsigned int, as Linux takes it)
   * @param flags eventfd2's flags
   * @throws SyscallError EINVAL for unknown flags; EMFILE/ENFILE/ENOMEM if the host has no room
   */
  public static EventFd create(int initial, int flags) {
    if ((flags & ~VALID_FLAGS) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    int fd = Host.eventfd(initial, (flags & EFD_SEMAPHORE) | Host.O_NONBLOCK | Host.O_CLOEXEC);
    if (fd < 0) {
      throw new SyscallError(-fd, "eventfd");
    }
    return new EventFd(fd, Host.O_RDWR | (flags & Host.O_NONBLOCK));
  }
}
