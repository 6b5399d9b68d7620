package org.vmspace.vkernel.syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashSet;
import java.util.Set;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.proc.Blocker;
import org.vmspace.vkernel.proc.SignalDelivery;
import org.vmspace.vkernel.proc.SignalFd;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * Waiting for descriptors: poll, ppoll, select and pselect6, all one host poll with the
 * thread's wake eventfd, so that a signal ends the wait (ERESTARTNOHAND); signalfds are
 * evaluated for the calling thread in Java, their signals waking that wait.
 */
final class PollCalls {
  static final short POLLIN = 0x1;
  private static final short POLLPRI = 0x2;
  static final short POLLOUT = 0x4;
  private static final short POLLNVAL = 0x20;
  private static final short POLLRDNORM = 0x40;
  private static final short POLLWRNORM = 0x100;

  private PollCalls() {}

  static long poll(Call c) {
    return poll(c, c.a(0), c.a(1), c.i(2) < 0 ? 0 : deadlineMillis(c.i(2)), c.i(2) < 0, 0);
  }

  static long select(Call c) {
    return select(c, c.a(4));
  }

  private static long deadlineMillis(int ms) {
    return System.nanoTime() + ms * 1_000_000L;
  }

  /**
   * The readiness of guest descriptors, as poll(2) reports it: descriptors with a host pollable
   * object are polled on the host (with the thread's wake eventfd), signalfds are evaluated for
   * the calling thread ({@link SignalFd#readableFor}, with a signal that becomes pending for it
   * waking the wait), the rest (regular and virtual files) are always ready, closed ones are
   * POLLNVAL; negative ones are skipped.
   *
   * @param deadline a nanoTime deadline, 0 with {@code forever} false meaning "do not wait"
   * @param sigmaskAddr the mask to wait with (ppoll, pselect6), or 0 for none
   * @return the revents of each descriptor
   * @throws SyscallError ERESTARTNOHAND if a signal came before anything was ready
   */
  private static short[] readiness(Call c, int[] fds, short[] events, long deadline, boolean forever,
      long sigmaskAddr) {
    int n = fds.length;
    short[] revents = new short[n];
    SignalFd[] signalFdAt = new SignalFd[n];
    Set<SignalFd> signalFds = new LinkedHashSet<>();
    try (Arena a = Arena.ofConfined()) {
      MemorySegment host = a.allocate(8L * Math.max(1, n), 8);
      int[] hostIndex = new int[n];
      int hn = 0;
      boolean fixedReady = false;
      for (int i = 0; i < n; i++) {
        hostIndex[i] = -1;
        if (fds[i] < 0) {
          continue;
        }
        FileDescription d = c.fds().isOpen(fds[i]) ? c.fds().get(fds[i]) : null;
        if (d == null) {
          revents[i] = POLLNVAL;
        } else if (d instanceof SignalFd s) {
          // Its host eventfd reports every watching thread's signals; Linux's poll reports the
          // caller's own and its process's only.
          signalFdAt[i] = s;
          signalFds.add(s);
        } else if (d.pollFd() >= 0) {
          host.set(ValueLayout.JAVA_INT, 8L * hn, d.pollFd());
          host.set(ValueLayout.JAVA_SHORT, 8L * hn + 4, events[i]);
          host.set(ValueLayout.JAVA_SHORT, 8L * hn + 6, (short) 0);
          hostIndex[i] = hn++;
        } else {
          revents[i] = (short) (events[i] & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM));
        }
        fixedReady |= revents[i] != 0;
      }
      if (sigmaskAddr != 0) {
        c.thread.signals().suspendMask(c.mem().readLong(sigmaskAddr));
      }
      // Registered before the first evaluation, so that a signal sent after it wakes the wait.
      try (SignalFd.Polling polling = signalFds.isEmpty() ? null
          : SignalFd.Polling.start(c.thread, signalFds.toArray(new SignalFd[0]))) {
        while (true) {
          boolean ready = fixedReady | evaluate(c, signalFdAt, events, revents);
          long wait = ready ? System.nanoTime() : forever ? 0 : deadline == 0 ? System.nanoTime() : deadline;
          Blocker.Wait w = c.thread.blocker().awaitMany(host, hn, wait, polling != null);
          if (w == Blocker.Wait.WOKEN) {
            continue; // a signal for one of the signalfds (or a stray wake): evaluate them again
          }
          if (w == Blocker.Wait.SIGNAL && !ready) {
            throw new SyscallError(SignalDelivery.ERESTARTNOHAND);
          }
          if (!ready) {
            evaluate(c, signalFdAt, events, revents); // what became pending while the host fds were awaited
          }
          for (int i = 0; i < n; i++) {
            if (hostIndex[i] >= 0) {
              revents[i] = host.get(ValueLayout.JAVA_SHORT, 8L * hostIndex[i] + 6);
            }
          }
          return revents;
        }
      }
    }
  }

  /** Sets the revents of the signalfds among the polled descriptors; whether one is ready. */
  private static boolean evaluate(Call c, SignalFd[] signalFdAt, short[] events, short[] revents) {
    boolean ready = false;
    for (int i = 0; i < signalFdAt.length; i++) {
      if (signalFdAt[i] != null) {
        revents[i] = signalFdAt[i].readableFor(c.thread) ? (short) (events[i] & POLLIN) : 0;
        ready |= revents[i] != 0;
      }
    }
    return ready;
  }

  /** poll/ppoll over the guest's pollfd array at {@code addr}. */
  static long poll(Call c, long addr, long nfds, long deadline, boolean forever, long sigmaskAddr) {
    if (nfds < 0 || nfds > c.fds().limit()) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    int n = (int) nfds;
    byte[] raw = n == 0 ? new byte[0] : c.mem().readBytes(addr, 8 * n);
    ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
    int[] fds = new int[n];
    short[] events = new short[n];
    for (int i = 0; i < n; i++) {
      fds[i] = b.getInt(8 * i);
      events[i] = b.getShort(8 * i + 4);
    }
    short[] revents = readiness(c, fds, events, deadline, forever, sigmaskAddr);
    int count = 0;
    for (int i = 0; i < n; i++) {
      b.putShort(8 * i + 6, revents[i]);
      if (revents[i] != 0) {
        count++;
      }
    }
    if (n > 0) {
      c.mem().writeBytes(addr, raw);
    }
    return count;
  }

  static long ppoll(Call c) {
    long ts = c.a(2);
    long deadline = 0;
    boolean forever = ts == 0;
    if (!forever) {
      deadline = TimeCalls.deadlineFromTimespec(c, ts);
    }
    if (c.a(3) != 0 && c.a(4) != 8) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return poll(c, c.a(0), c.a(1), deadline, forever, c.a(3));
  }

  static long pselect6(Call c) {
    long ts = c.a(4);
    long deadline = ts == 0 ? 0 : TimeCalls.deadlineFromTimespec(c, ts);
    long mask = 0;
    if (c.a(5) != 0) {
      long ptr = c.mem().readLong(c.a(5));
      long size = c.mem().readLong(c.a(5) + 8);
      if (ptr != 0) {
        if (size != 8) {
          throw new SyscallError(LinuxErrno.EINVAL);
        }
        mask = ptr;
      }
    }
    return selectSets(c, ts == 0, deadline, mask);
  }

  private static long select(Call c, long tvAddr) {
    boolean forever;
    long deadline = 0;
    if (tvAddr != 0) {
      long sec = c.mem().readLong(tvAddr);
      long usec = c.mem().readLong(tvAddr + 8);
      if (sec < 0 || usec < 0 || usec >= 1_000_000) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
      deadline = System.nanoTime() + sec * 1_000_000_000L + usec * 1000;
      forever = false;
    } else {
      forever = true;
    }
    return selectSets(c, forever, deadline, 0);
  }

  /** select/pselect6 as a poll over the descriptors in the three sets. */
  private static long selectSets(Call c, boolean forever, long deadline, long sigmaskAddr) {
    int nfds = c.i(0);
    if (nfds < 0 || nfds > c.fds().limit()) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    int words = (nfds + 63) / 64;
    long[][] sets = new long[3][words];
    for (int k = 0; k < 3; k++) {
      long p = c.a(1 + k);
      for (int w = 0; w < words && p != 0; w++) {
        sets[k][w] = c.mem().readLong(p + 8L * w);
      }
    }
    short[] kinds = {POLLIN, POLLOUT, POLLPRI};
    java.util.List<Integer> polled = new java.util.ArrayList<>();
    java.util.List<Short> wanted = new java.util.ArrayList<>();
    for (int fd = 0; fd < nfds; fd++) {
      short ev = 0;
      for (int k = 0; k < 3; k++) {
        if ((sets[k][fd / 64] & (1L << (fd % 64))) != 0) {
          ev |= kinds[k];
        }
      }
      if (ev != 0) {
        if (!c.fds().isOpen(fd)) {
          throw new SyscallError(LinuxErrno.EBADF);
        }
        polled.add(fd);
        wanted.add(ev);
      }
    }
    int[] fds = polled.stream().mapToInt(Integer::intValue).toArray();
    short[] events = new short[fds.length];
    for (int i = 0; i < events.length; i++) {
      events[i] = wanted.get(i);
    }
    short[] revents = readiness(c, fds, events, deadline, forever, sigmaskAddr);
    long[][] out = new long[3][words];
    int count = 0;
    for (int i = 0; i < fds.length; i++) {
      long bit = 1L << (fds[i] % 64);
      boolean hup = (revents[i] & (0x8 | 0x10)) != 0; // POLLERR, POLLHUP make it readable/writable
      for (int k = 0; k < 3; k++) {
        boolean ready = (revents[i] & kinds[k]) != 0 || (k < 2 && hup);
        if ((events[i] & kinds[k]) != 0 && ready) {
          out[k][fds[i] / 64] |= bit;
          count++;
        }
      }
    }
    for (int k = 0; k < 3; k++) {
      long p = c.a(1 + k);
      for (int w = 0; w < words && p != 0; w++) {
        c.mem().writeLong(p + 8L * w, out[k][w]);
      }
    }
    return count;
  }
}
