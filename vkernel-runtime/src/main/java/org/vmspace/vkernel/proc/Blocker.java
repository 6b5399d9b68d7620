package org.vmspace.vkernel.proc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * How one task blocks and is woken: every blocking wait of a system call polls the host
 * descriptor it waits for together with the task's own eventfd, which {@link #wake} writes. As
 * gVisor's {@code task_block.go}.
 *
 * <p>Guarantees: a wake is never lost (the eventfd counts it until the next wait reads it); a
 * wait checks, when it starts and at every wake, whether the task is exiting or (if it may be
 * interrupted) has a signal it can take pending, and then returns {@link Wait#SIGNAL}; a wake
 * after the task's loop ended is a no-op (the eventfd is closed under the same lock).
 */
public final class Blocker {
  /** What {@link #await} saw. */
  public enum Wait {
    /** The host descriptor is ready. */
    READY,
    /** The thread was woken without a signal for it (a child exited, a futex was woken). */
    WOKEN,
    /** A signal is pending (or the process is exiting): the call should return. */
    SIGNAL,
    /** The deadline passed. */
    TIMEOUT
  }

  private final Task task;
  private final int wakeFd;
  private final Object wakeLock = new Object();
  private boolean wakeClosed;
  private volatile boolean blocked;
  private Arena arena;
  private MemorySegment pollFds;
  private MemorySegment wakeBuf;

  /**
   * Makes the task's wake eventfd.
   *
   * @throws SyscallError EAGAIN if the host has no descriptor for it
   */
  Blocker(Task task) {
    this.task = task;
    int fd = Host.eventfd(0, 0x800 | 0x80000); // EFD_NONBLOCK | EFD_CLOEXEC
    if (fd < 0) {
      throw new SyscallError(LinuxErrno.EAGAIN, "eventfd: " + LinuxErrno.name(-fd));
    }
    this.wakeFd = fd;
  }

  /** Allocates the poll buffers; on the task's own thread, which alone may use them. */
  void open() {
    arena = Arena.ofConfined();
    pollFds = arena.allocate(16, 8);
    wakeBuf = arena.allocate(8, 8);
  }

  /** The task's loop ended (or never started): later wakes do nothing, and the buffers are freed. */
  void close() {
    synchronized (wakeLock) {
      wakeClosed = true;
      Host.close(wakeFd);
    }
    if (arena != null) {
      arena.close();
    }
  }

  boolean isBlocked() {
    return blocked;
  }

  /** Wakes the thread from {@link #await} and, if asked, out of a running guest. */
  public void wake(boolean interruptGuest) {
    synchronized (wakeLock) {
      if (!wakeClosed) {
        try (Arena a = Arena.ofConfined()) {
          MemorySegment one = a.allocate(8, 8);
          one.set(ValueLayout.JAVA_LONG, 0, 1);
          Host.write(wakeFd, one, 8);
        }
      }
    }
    Thread t = task.javaThread();
    if (interruptGuest && t != null) {
      task.kernel().vms.interrupt(t);
    }
  }

  /** Whether a wait should end: a signal is pending (if {@code interruptible}) or the task exits. */
  private boolean cutShort(boolean interruptible) {
    return interruptible ? task.signals().signalPending() : task.exiting();
  }

  /**
   * Waits until host descriptor {@code fd} (if not negative) has {@code events}, the thread is
   * woken, a signal is pending (if {@code interruptible}) or {@code deadline} (a {@link
   * System#nanoTime()} value, 0 for none) passes.
   */
  public Wait await(int fd, short events, long deadline, boolean interruptible) {
    blocked = true;
    try {
      while (true) {
        if (cutShort(interruptible)) {
          return Wait.SIGNAL;
        }
        pollFds.set(ValueLayout.JAVA_INT, 0, wakeFd);
        pollFds.set(ValueLayout.JAVA_SHORT, 4, Host.POLLIN);
        pollFds.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
        int n = 1;
        if (fd >= 0) {
          pollFds.set(ValueLayout.JAVA_INT, 8, fd);
          pollFds.set(ValueLayout.JAVA_SHORT, 12, events);
          pollFds.set(ValueLayout.JAVA_SHORT, 14, (short) 0);
          n = 2;
        }
        int timeoutMs = -1;
        if (deadline != 0) {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            return Wait.TIMEOUT;
          }
          timeoutMs = (int) Math.min(Integer.MAX_VALUE, (left + 999_999) / 1_000_000);
        }
        int r = Host.poll(pollFds, n, timeoutMs);
        if (r < 0) {
          if (-r == LinuxErrno.EINTR) {
            continue;
          }
          throw new SyscallError(-r, "poll");
        }
        if (r == 0) {
          continue;
        }
        boolean woken = pollFds.get(ValueLayout.JAVA_SHORT, 6) != 0;
        if (woken) {
          Host.read(wakeFd, wakeBuf, 8);
        }
        if (fd >= 0 && pollFds.get(ValueLayout.JAVA_SHORT, 14) != 0) {
          return Wait.READY;
        }
        if (woken) {
          if (cutShort(interruptible)) {
            return Wait.SIGNAL;
          }
          return Wait.WOKEN;
        }
      }
    } finally {
      blocked = false;
    }
  }

  /**
   * Polls several host descriptors and the wake eventfd (for poll/select). See {@link #await}: a
   * signal the task can take ends it with SIGNAL, one of the descriptors with READY (their
   * revents copied back into {@code fds}), the deadline with TIMEOUT (revents copied too); a wake
   * without a signal ends it with WOKEN if {@code wokenEnds} (the caller has readiness of its own
   * to evaluate again, as signalfds'), and otherwise the wait goes on.
   */
  public Wait awaitMany(MemorySegment fds, int n, long deadline, boolean wokenEnds) {
    blocked = true;
    try (Arena a = Arena.ofConfined()) {
      MemorySegment all = a.allocate(8L * (n + 1), 8);
      MemorySegment.copy(fds, 0, all, 0, 8L * n);
      while (true) {
        if (task.signals().signalPending()) {
          return Wait.SIGNAL;
        }
        all.set(ValueLayout.JAVA_INT, 8L * n, wakeFd);
        all.set(ValueLayout.JAVA_SHORT, 8L * n + 4, Host.POLLIN);
        all.set(ValueLayout.JAVA_SHORT, 8L * n + 6, (short) 0);
        int timeoutMs = -1;
        if (deadline != 0) {
          long left = deadline - System.nanoTime();
          timeoutMs = left <= 0 ? 0 : (int) Math.min(Integer.MAX_VALUE, (left + 999_999) / 1_000_000);
        }
        int r = Host.poll(all, n + 1, timeoutMs);
        if (r < 0) {
          if (-r == LinuxErrno.EINTR) {
            continue;
          }
          throw new SyscallError(-r, "poll");
        }
        boolean woken = all.get(ValueLayout.JAVA_SHORT, 8L * n + 6) != 0;
        if (woken) {
          Host.read(wakeFd, wakeBuf, 8);
          r--;
        }
        if (r > 0) {
          MemorySegment.copy(all, 0, fds, 0, 8L * n);
          return Wait.READY;
        }
        if (woken && wokenEnds) {
          return task.signals().signalPending() ? Wait.SIGNAL : Wait.WOKEN;
        }
        if (deadline != 0 && System.nanoTime() - deadline >= 0) {
          MemorySegment.copy(all, 0, fds, 0, 8L * n);
          return Wait.TIMEOUT;
        }
      }
    } finally {
      blocked = false;
    }
  }

  /** Sleeps until the deadline; SIGNAL if a signal cut it short. */
  public Wait sleepUntil(long deadline) {
    while (true) {
      Wait w = await(-1, (short) 0, deadline, true);
      if (w != Wait.WOKEN) {
        return w;
      }
    }
  }
}
