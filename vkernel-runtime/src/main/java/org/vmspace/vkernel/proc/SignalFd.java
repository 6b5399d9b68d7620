package org.vmspace.vkernel.proc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArraySet;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.SignalFdInfo;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * A signalfd(2) descriptor. A read takes the reading thread's pending signals in the mask, its
 * own first and then its process's (as Linux's {@code dequeue_signal}), as 128-byte {@code
 * struct signalfd_siginfo} records, as many as fit and are pending; with none pending it fails
 * with EAGAIN (non-blocking) or waits for one, interruptibly (ERESTARTSYS). A signal read
 * through it is consumed: it is not delivered as well. A shorter buffer than one record is
 * EINVAL, as is a write.
 *
 * <p>Readiness for poll, ppoll, select and pselect6 is the polling thread's, as Linux's {@code
 * signalfd_poll}: readable ({@link #readableFor}) while a signal in the mask is pending for that
 * thread itself or for its process; a signal pending only for another thread does not count,
 * and whether the thread blocks the signal does not matter. Those calls evaluate it in Java
 * rather than through the host eventfd, and while one waits ({@link Polling}) the thread is woken
 * when a signal in the mask becomes pending for it: a thread-directed one wakes its target as
 * any signal does, a process-directed one ({@link TaskSignals#postProcess}) wakes every thread
 * of the process whose poll watches it, and a change of the mask wakes the descriptor's pollers.
 *
 * <p>Readiness for epoll (and for anything else that uses {@link #pollFd}) is that of a host
 * eventfd the kernel keeps readable exactly while a signal in the mask is pending for one of the
 * processes that <em>watch</em> the descriptor: the one that created it and each one that has
 * since read it or added it to an epoll set (a child that inherits it watches it from its first
 * such use), whether pending for the process or for any one of its threads. The kernel
 * re-evaluates it after every change of a watcher's pending signals ({@link
 * ThreadGroup#signalsChanged}) and of the mask. Linux's epoll is woken by signals to the
 * processes that registered the descriptor, as here, but then reports it only if a signal is
 * pending for the waiting thread or its process; here a signal pending only for another thread
 * of a watching process is reported too.
 *
 * <p>Lock order: the descriptor's monitor, then a thread group's; {@link #refresh} is never
 * called with a thread group's monitor held.
 */
public final class SignalFd extends HostFileDescription {
  private final Set<ThreadGroup> watchers = new CopyOnWriteArraySet<>();
  /** The tasks whose current poll or select evaluates it (see {@link Polling}). */
  private final Set<Task> pollers = ConcurrentHashMap.newKeySet();
  private volatile long mask;
  /** Guarded by this: whether the eventfd's counter is non-zero; whether it is closed. */
  private boolean readable;
  private boolean closed;

  private SignalFd(int eventFd, long mask, int statusFlags) {
    super(eventFd, "anon_inode:[signalfd]", statusFlags, true, false);
    this.mask = mask;
  }

  /**
   * signalfd4 with fd -1: a new descriptor for {@code creator}'s process.
   *
   * @param mask the guest's mask (SIGKILL and SIGSTOP are dropped)
   * @param flags SFD_NONBLOCK and SFD_CLOEXEC (already checked)
   * @throws SyscallError EMFILE/ENFILE/ENOMEM if the host has no room for the eventfd
   */
  public static SignalFd create(ThreadGroup creator, long mask, int flags) {
    int fd = Host.eventfd(0, Host.O_NONBLOCK | Host.O_CLOEXEC);
    if (fd < 0) {
      throw new SyscallError(-fd, "eventfd");
    }
    SignalFd s = new SignalFd(fd, SignalFdInfo.mask(mask), Host.O_RDWR | (flags & SignalFdInfo.SFD_NONBLOCK));
    s.watch(creator);
    return s;
  }

  /** The signals it reads. */
  public long mask() {
    return mask;
  }

  /** signalfd4 on an existing descriptor: replaces the mask (SIGKILL and SIGSTOP dropped). */
  public void mask(long newMask) {
    mask = SignalFdInfo.mask(newMask);
    refresh();
    // As Linux's signalfd4 wakes the descriptor's pollers: what is ready may have changed.
    for (Task t : pollers) {
      t.blocker().wake(false);
    }
  }

  /**
   * Whether it is readable for a poll or select of guest thread {@code t}, as Linux's
   * signalfd_poll: a signal in the mask is pending for {@code t} itself or for its process.
   * Another thread's own pending signals do not count, and whether {@code t} blocks the signal
   * does not matter.
   */
  public boolean readableFor(Task t) {
    return (t.signals().pendingForThread() & mask) != 0;
  }

  /**
   * One poll or select of one guest thread over signalfds, which it evaluates with {@link
   * #readableFor} instead of through their host eventfds. While it is open, a signal in one of
   * their masks that becomes pending for the thread (sent to it, or to its process) and a change
   * of one of their masks wake the thread ({@link Blocker#wake}), so that its wait ends and the
   * poll evaluates them again: a signal is never missed between an evaluation and the wait,
   * because the polling is registered before the first evaluation and a wake is counted until the
   * wait reads it. Opened and closed by the polling thread; not reentrant (a thread polls once
   * at a time).
   */
  public static final class Polling implements AutoCloseable {
    private final Task task;
    private final SignalFd[] fds;

    private Polling(Task task, SignalFd[] fds) {
      this.task = task;
      this.fds = fds;
    }

    /** Starts a poll of {@code fds} by {@code t}, the calling guest thread. */
    public static Polling start(Task t, SignalFd[] fds) {
      SignalFd[] copy = fds.clone();
      for (SignalFd s : copy) {
        s.pollers.add(t);
      }
      t.signals().polling(copy);
      return new Polling(t, copy);
    }

    /** The poll ended: signals no longer wake the thread for it. */
    @Override
    public void close() {
      task.signals().polling(null);
      for (SignalFd s : fds) {
        s.pollers.remove(task);
      }
    }
  }

  /** Makes {@code p} one of the processes whose pending signals make it readable. */
  void watch(ThreadGroup p) {
    if (watchers.contains(p) || p.exiting()) {
      return;
    }
    synchronized (this) {
      if (closed) {
        return;
      }
      watchers.add(p);
    }
    p.signalFds.add(this);
    refresh();
  }

  /** {@code p} exits: its signals no longer count. */
  void unwatch(ThreadGroup p) {
    watchers.remove(p);
    refresh();
  }

  /** The process of the calling guest thread watches it from its first use (see the class comment). */
  @Override
  public int pollFd() {
    Task t = Task.current();
    if (t != null) {
      watch(t.process);
    }
    return super.pollFd();
  }

  /**
   * Makes the eventfd's readiness match the watchers' pending signals: called after any change
   * of them. Each change is followed by a call that reads the state after it, so the last call
   * leaves the right answer whatever the interleaving.
   */
  void refresh() {
    synchronized (this) {
      if (closed) {
        return;
      }
      long m = mask;
      boolean ready = false;
      for (ThreadGroup p : watchers) {
        if (p.exiting()) {
          continue; // its signals will never be read; finishing its exit unwatches it
        }
        long pending = p.pending();
        for (Task t : p.threadsSnapshot()) {
          pending |= t.signals().pendingOwn();
        }
        if ((pending & m) != 0) {
          ready = true;
          break;
        }
      }
      if (ready == readable) {
        return;
      }
      try (Arena a = Arena.ofConfined()) {
        MemorySegment v = a.allocate(8, 8);
        if (ready) {
          v.set(ValueLayout.JAVA_LONG, 0, 1);
          Host.write(hostFd(), v, 8);
        } else {
          Host.read(hostFd(), v, 8);
        }
      }
      readable = ready;
    }
  }

  /**
   * Reads up to {@code len / 128} pending signals of the calling guest thread into {@code buf}.
   *
   * @throws SyscallError EINVAL for a buffer shorter than one record; EAGAIN if none is pending
   *     and it is non-blocking; ERESTARTSYS if another signal (or the process's exit) ends the wait
   */
  @Override
  public long read(MemorySegment buf, long len) {
    Task t = Task.current();
    if (t == null) {
      throw new IllegalStateException("a signalfd is read by a guest thread");
    }
    return read(t, buf, len);
  }

  /** {@link #read(MemorySegment, long)} for guest thread {@code t}. */
  long read(Task t, MemorySegment buf, long len) {
    long max = len / SignalFdInfo.SIZE;
    if (max == 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    watch(t.process);
    SigInfo[] info = new SigInfo[1];
    byte[] record = new byte[SignalFdInfo.SIZE];
    long n = 0;
    while (n < max) {
      long m = mask;
      int sig = t.signals().takeSignal(m, info);
      if (sig == 0) {
        if (n > 0) {
          break;
        }
        if (nonBlocking()) {
          throw new SyscallError(LinuxErrno.EAGAIN);
        }
        sig = waitForSignal(t, m, info);
      }
      SignalFdInfo.encode(info[0], record, 0);
      MemorySegment.copy(record, 0, buf, ValueLayout.JAVA_BYTE, n * SignalFdInfo.SIZE, SignalFdInfo.SIZE);
      n++;
    }
    return n * SignalFdInfo.SIZE;
  }

  /**
   * Waits until a signal in {@code m} is pending for {@code t} and takes it, as Linux's
   * signalfd_dequeue: a process-directed one wakes the thread because it says it waits for it,
   * even when it blocks it.
   */
  private static int waitForSignal(Task t, long m, SigInfo[] info) {
    t.signals().waitingFor(m);
    try {
      while (true) {
        // Taken again after saying what it waits for: a signal posted in between woke no one.
        int sig = t.signals().takeSignal(m, info);
        if (sig != 0) {
          return sig;
        }
        if (t.blocker().await(-1, (short) 0, 0, true) == Blocker.Wait.SIGNAL) {
          sig = t.signals().takeSignal(m, info);
          if (sig != 0) {
            return sig;
          }
          throw new SyscallError(LinuxErrno.ERESTARTSYS);
        }
      }
    } finally {
      t.signals().waitingFor(0);
    }
  }

  /** A signalfd has no write operation: EINVAL, as Linux. */
  @Override
  public long write(MemorySegment buf, long len) {
    throw new SyscallError(LinuxErrno.EINVAL);
  }

  @Override
  protected void close() {
    synchronized (this) {
      closed = true;
    }
    for (ThreadGroup p : watchers) {
      p.signalFds.remove(this);
    }
    watchers.clear();
    super.close();
  }
}
