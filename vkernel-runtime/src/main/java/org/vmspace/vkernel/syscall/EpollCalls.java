package org.vmspace.vkernel.syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.proc.Blocker;
import org.vmspace.vkernel.proc.SignalDelivery;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * epoll: an epoll instance is a host epoll descriptor, and a guest descriptor is watched through
 * the host descriptor behind it (pipes, terminals, other epoll instances), so level and edge
 * triggering, EPOLLONESHOT and EPOLLEXCLUSIVE are the host's own. Descriptors without one
 * (regular files, directories, virtual files) are refused with EPERM, as Linux refuses regular
 * files. The guest's {@code epoll_data} is stored with the host and handed back unchanged. A
 * wait polls the instance together with the thread's wake descriptor, so a signal ends it with
 * EINTR (epoll_wait is never restarted, as on Linux).
 *
 * <p>Not yet: descriptors that share one host descriptor (dup) are one registration, not one
 * each.
 */
final class EpollCalls {
  private static final int EPOLL_CLOEXEC = 0x80000;
  private static final int EPOLL_CTL_ADD = 1;
  private static final int EPOLL_CTL_DEL = 2;
  private static final int EPOLL_CTL_MOD = 3;
  /** sizeof(struct epoll_event) on x86-64: packed u32 events, u64 data. */
  private static final int EVENT_SIZE = 12;
  /** Linux's EP_MAX_EVENTS: INT_MAX / sizeof(struct epoll_event). */
  private static final int MAX_EVENTS = Integer.MAX_VALUE / EVENT_SIZE;

  private EpollCalls() {}

  static long epollCreate(Call c) {
    if (c.i(0) <= 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return create(c, 0);
  }

  static long epollCreate1(Call c) {
    if ((c.i(0) & ~EPOLL_CLOEXEC) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return create(c, c.i(0));
  }

  private static long create(Call c, int flags) {
    int fd = Host.epollCreate1(EPOLL_CLOEXEC);
    if (fd < 0) {
      throw new SyscallError(-fd, "epoll_create1");
    }
    HostFileDescription d = new HostFileDescription(fd, "anon_inode:[eventpoll]", Host.O_RDWR, true, false);
    return c.fds().install(d, 0, (flags & EPOLL_CLOEXEC) != 0);
  }

  static long epollCtl(Call c) {
    FileDescription ep = c.fd(0);
    int op = c.i(1);
    FileDescription target = c.fd(2);
    if (!isEpoll(ep)) {
      throw new SyscallError(LinuxErrno.EINVAL, "not an epoll descriptor");
    }
    if (target == ep) {
      throw new SyscallError(LinuxErrno.EINVAL, "an epoll instance cannot watch itself");
    }
    if (op != EPOLL_CTL_ADD && op != EPOLL_CTL_DEL && op != EPOLL_CTL_MOD) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (target.pollFd() < 0) {
      throw new SyscallError(LinuxErrno.EPERM, "not pollable");
    }
    try (Arena a = Arena.ofConfined()) {
      MemorySegment event = a.allocate(EVENT_SIZE, 8);
      if (op != EPOLL_CTL_DEL) {
        c.mem().read(c.a(3), event, 0, EVENT_SIZE);
      }
      int r = Host.epollCtl(ep.pollFd(), op, target.pollFd(), event);
      if (r < 0) {
        throw new SyscallError(-r, "epoll_ctl");
      }
    }
    return 0;
  }

  static long epollWait(Call c) {
    return wait(c, 0);
  }

  static long epollPwait(Call c) {
    return wait(c, c.a(4));
  }

  private static long wait(Call c, long sigmaskAddr) {
    FileDescription ep = c.fd(0);
    long events = c.a(1);
    int max = c.i(2);
    int timeoutMs = c.i(3);
    if (!isEpoll(ep) || max <= 0 || max > MAX_EVENTS) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    int batch = Math.min(max, Call.CHUNK / EVENT_SIZE);
    long deadline = timeoutMs < 0 ? 0 : System.nanoTime() + timeoutMs * 1_000_000L;
    if (sigmaskAddr != 0) {
      c.thread.signals().suspendMask(c.mem().readLong(sigmaskAddr));
    }
    MemorySegment buf = Call.buffer();
    while (true) {
      int n = Host.epollWait(ep.pollFd(), buf, batch, 0);
      if (n < 0 && n != -LinuxErrno.EINTR) {
        throw new SyscallError(-n, "epoll_wait");
      }
      if (n > 0) {
        c.mem().write(events, buf, 0, (long) n * EVENT_SIZE);
        return n;
      }
      if (timeoutMs == 0) {
        return 0;
      }
      Blocker.Wait w = c.thread.blocker().await(ep.pollFd(), Host.POLLIN, deadline, true);
      if (w == Blocker.Wait.SIGNAL) {
        throw new SyscallError(SignalDelivery.ERESTARTNOHAND);
      }
      if (w == Blocker.Wait.TIMEOUT) {
        return 0;
      }
    }
  }

  private static boolean isEpoll(FileDescription d) {
    return d instanceof HostFileDescription h && h.path().equals("anon_inode:[eventpoll]");
  }
}
