package org.vmspace.vkernel.syscall;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.vmspace.vkernel.proc.Blocker;
import org.vmspace.vkernel.proc.SignalDelivery;
import org.vmspace.vkernel.proc.TaskSignals;
import org.vmspace.vkernel.signal.SigAction;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * Signal system calls: rt_sigaction, rt_sigprocmask, rt_sigreturn, rt_sigpending,
 * rt_sigsuspend, pause, rt_sigtimedwait, sigaltstack, and the ITIMER_REAL timer (alarm,
 * setitimer, getitimer).
 */
final class SignalCalls {
  private static final int SIG_BLOCK = 0;
  private static final int SIG_UNBLOCK = 1;
  private static final int SIG_SETMASK = 2;
  private static final long MINSIGSTKSZ = 2048;
  private static final int SS_AUTODISARM = 1 << 31;

  private SignalCalls() {}

  static long sigpending(Call c) {
    checkSetSize(c.a(1));
    c.mem().writeLong(c.a(0), c.thread.signals().pendingOwn() | c.process.pending());
    return 0;
  }

  static long sigsuspend(Call c) {
    checkSetSize(c.a(1));
    return suspend(c, c.mem().readLong(c.a(0)));
  }

  static long pause(Call c) {
    return suspend(c, c.thread.signals().mask());
  }

  static long alarm(Call c) {
    long secs = c.a(0) & 0xffffffffL;
    long[] old = TaskSignals.setAlarm(c.process, secs * 1_000_000_000L, 0);
    return (old[0] + 999_999_999L) / 1_000_000_000L;
  }

  static long getitimer(Call c) {
    if (c.i(0) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL, "only ITIMER_REAL is supported");
    }
    writeItimer(c, c.a(1), TaskSignals.alarmLeft(c.process));
    return 0;
  }

  private static void checkSetSize(long size) {
    if (size != 8) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
  }

  static long sigaction(Call c) {
    int sig = c.i(0);
    checkSetSize(c.a(3));
    if (sig < 1 || sig > Signals.NSIG) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    SigAction old = c.process.action(sig);
    SigAction next = null;
    if (c.a(1) != 0) {
      if (sig == Signals.SIGKILL || sig == Signals.SIGSTOP) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
      ByteBuffer b = ByteBuffer.wrap(c.mem().readBytes(c.a(1), 32)).order(ByteOrder.LITTLE_ENDIAN);
      next = new SigAction(b.getLong(0), b.getLong(8), b.getLong(16), b.getLong(24) & ~Signals.UNBLOCKABLE);
    }
    if (c.a(2) != 0) {
      ByteBuffer b = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
      b.putLong(0, old.handler()).putLong(8, old.flags()).putLong(16, old.restorer()).putLong(24, old.mask());
      c.mem().writeBytes(c.a(2), b.array());
    }
    if (next != null) {
      c.process.action(sig, next);
    }
    return 0;
  }

  static long sigprocmask(Call c) {
    checkSetSize(c.a(3));
    long old = c.thread.signals().mask();
    long set = 0;
    int how = c.i(0);
    if (c.a(1) != 0) {
      if (how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
      set = c.mem().readLong(c.a(1));
    }
    if (c.a(2) != 0) {
      c.mem().writeLong(c.a(2), old);
    }
    if (c.a(1) != 0) {
      c.thread.signals().mask(switch (how) {
        case SIG_BLOCK -> old | set;
        case SIG_UNBLOCK -> old & ~set;
        default -> set;
      });
    }
    return 0;
  }

  static long sigreturn(Call c) {
    try {
      c.thread.delivery().sigreturn();
    } catch (SyscallError e) {
      // A frame that cannot be read back: Linux kills the process with SIGSEGV.
      c.thread.signals().forceSignal(Signals.SIGSEGV, SigInfo.fault(Signals.SIGSEGV, SigInfo.SI_KERNEL, 0));
    }
    return Syscalls.NO_RETURN;
  }

  /** rt_sigsuspend/pause: waits with {@code mask} until a handler runs (or the process dies). */
  private static long suspend(Call c, long mask) {
    c.thread.signals().suspendMask(mask);
    while (c.thread.blocker().await(-1, (short) 0, 0, true) != Blocker.Wait.SIGNAL) {
      // woken for something else (a child exited): keep waiting
    }
    throw new SyscallError(SignalDelivery.ERESTARTNOHAND);
  }

  static long sigtimedwait(Call c) {
    checkSetSize(c.a(3));
    long set = c.mem().readLong(c.a(0)) & ~Signals.UNBLOCKABLE;
    long deadline = c.a(2) == 0 ? 0 : TimeCalls.deadlineFromTimespec(c, c.a(2));
    SigInfo[] info = new SigInfo[1];
    c.thread.signals().waitingFor(set);
    try {
      while (true) {
        int sig = c.thread.signals().takeSignal(set, info);
        if (sig != 0) {
          if (c.a(1) != 0) {
            c.mem().writeBytes(c.a(1), info[0].toBytes());
          }
          return sig;
        }
        if (deadline != 0 && System.nanoTime() - deadline >= 0) {
          throw new SyscallError(LinuxErrno.EAGAIN);
        }
        Blocker.Wait w = c.thread.blocker().await(-1, (short) 0, deadline == 0 ? 0 : deadline, true);
        if (w == Blocker.Wait.SIGNAL && c.thread.signals().takeSignal(set, info) == 0) {
          // Another signal (one not waited for) interrupts the wait.
          throw new SyscallError(SignalDelivery.ERESTARTNOHAND);
        } else if (w == Blocker.Wait.SIGNAL) {
          if (c.a(1) != 0) {
            c.mem().writeBytes(c.a(1), info[0].toBytes());
          }
          return info[0].signo();
        }
      }
    } finally {
      c.thread.signals().waitingFor(0);
    }
  }

  static long sigaltstack(Call c) {
    long[] cur = c.thread.delivery().altStack();
    boolean on = c.thread.delivery().onAltStack(c.frame.rsp());
    if (c.a(1) != 0) {
      ByteBuffer b = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
      b.putLong(0, cur[0]).putInt(8, on ? SignalDelivery.SS_ONSTACK : (int) cur[2]).putLong(16, cur[1]);
      c.mem().writeBytes(c.a(1), b.array());
    }
    if (c.a(0) != 0) {
      ByteBuffer b = ByteBuffer.wrap(c.mem().readBytes(c.a(0), 24)).order(ByteOrder.LITTLE_ENDIAN);
      long sp = b.getLong(0);
      int flags = b.getInt(8);
      long size = b.getLong(16);
      if (on) {
        throw new SyscallError(LinuxErrno.EPERM);
      }
      int mode = flags & ~SS_AUTODISARM;
      if (mode != 0 && mode != SignalDelivery.SS_ONSTACK && mode != SignalDelivery.SS_DISABLE) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
      if (mode == SignalDelivery.SS_DISABLE) {
        c.thread.delivery().altStack(0, 0, SignalDelivery.SS_DISABLE);
      } else {
        if (size < MINSIGSTKSZ) {
          throw new SyscallError(LinuxErrno.ENOMEM);
        }
        c.thread.delivery().altStack(sp, size, 0);
      }
    }
    return 0;
  }

  static long setitimer(Call c) {
    if (c.i(0) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL, "only ITIMER_REAL is supported");
    }
    long delay = 0;
    long interval = 0;
    if (c.a(1) != 0) {
      ByteBuffer b = ByteBuffer.wrap(c.mem().readBytes(c.a(1), 32)).order(ByteOrder.LITTLE_ENDIAN);
      interval = timeval(b.getLong(0), b.getLong(8));
      delay = timeval(b.getLong(16), b.getLong(24));
    }
    long[] old = TaskSignals.setAlarm(c.process, delay, delay == 0 ? 0 : interval);
    if (c.a(2) != 0) {
      writeItimer(c, c.a(2), old);
    }
    return 0;
  }

  private static long timeval(long sec, long usec) {
    if (sec < 0 || usec < 0 || usec >= 1_000_000) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return sec * 1_000_000_000L + usec * 1000;
  }

  private static void writeItimer(Call c, long addr, long[] leftAndInterval) {
    ByteBuffer b = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(0, leftAndInterval[1] / 1_000_000_000L).putLong(8, (leftAndInterval[1] / 1000) % 1_000_000);
    b.putLong(16, leftAndInterval[0] / 1_000_000_000L).putLong(24, (leftAndInterval[0] / 1000) % 1_000_000);
    c.mem().writeBytes(addr, b.array());
  }
}
