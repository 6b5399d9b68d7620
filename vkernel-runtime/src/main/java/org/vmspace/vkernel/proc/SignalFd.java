package org.vmspace.vkernel.proc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Set;
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
 * <p>Readiness (poll, select, epoll) is that of a host eventfd the kernel keeps readable exactly
 * while a signal in the mask is pending for one of the processes that <em>watch</em> the
 * descriptor: the one that created it and each one that has since read it, polled it or added
 * it to an epoll set (a child that inherits it watches it from its first such use). The kernel
 * re-evaluates it after every change of a watcher's pending signals ({@link
 * ThreadGroup#signalsChanged}) and of the mask. Linux evaluates a poll for the polling thread
 * only (its own pending signals and its process's); here a signal pending for one thread of a
 * watching process makes the descriptor readable to all of them, and in epoll Linux too reports
 * the processes that registered the descriptor rather than the waiter.
 *
 * <p>Lock order: the descriptor's monitor, then a thread group's; {@link #refresh} is never
 * called with a thread group's monitor held.
 */
public final class SignalFd extends HostFileDescription {
  private final Set<ThreadGroup> watchers = new CopyOnWriteArraySet<>();
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
