package org.vmspace.vkernel.syscall;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Instant;
import org.vmspace.vkernel.proc.Blocker;
import org.vmspace.vkernel.proc.SignalDelivery;
import org.vmspace.vkernel.proc.Task;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * Clocks and sleeping: clock_gettime, clock_getres, gettimeofday, time, nanosleep,
 * clock_nanosleep, and getrandom. The monotonic clocks are the host's CLOCK_MONOTONIC ({@link
 * System#nanoTime()} on Linux), the real-time clock the host's, the CPU-time clocks the calling
 * thread's and its process's ({@link Task#cpuTimes}, {@link
 * org.vmspace.vkernel.proc.ThreadGroup#cpuTimes}).
 */
final class TimeCalls {
  private static final int CLOCK_REALTIME = 0;
  private static final int CLOCK_MONOTONIC = 1;
  private static final int CLOCK_PROCESS_CPUTIME_ID = 2;
  private static final int CLOCK_THREAD_CPUTIME_ID = 3;
  private static final int CLOCK_MONOTONIC_RAW = 4;
  private static final int CLOCK_REALTIME_COARSE = 5;
  private static final int CLOCK_MONOTONIC_COARSE = 6;
  private static final int CLOCK_BOOTTIME = 7;
  private static final int CLOCK_TAI = 11;
  private static final int TIMER_ABSTIME = 1;
  private static final int GETRANDOM_MAX = 33_554_431;

  private TimeCalls() {}

  static long clockGettime(Call c) {
    writeTimespec(c, c.a(1), now(c.thread, c.i(0)));
    return 0;
  }

  static long clockGetres(Call c) {
    now(c.thread, c.i(0));
    if (c.a(1) != 0) {
      int clk = c.i(0);
      writeTimespec(c, c.a(1), clk == CLOCK_REALTIME_COARSE || clk == CLOCK_MONOTONIC_COARSE ? 4_000_000 : 1);
    }
    return 0;
  }

  static long gettimeofday(Call c) {
    if (c.a(0) != 0) {
      long ns = now(null, CLOCK_REALTIME);
      ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
      b.putLong(0, ns / 1_000_000_000L).putLong(8, (ns / 1000) % 1_000_000);
      c.mem().writeBytes(c.a(0), b.array());
    }
    if (c.a(1) != 0) {
      c.mem().writeBytes(c.a(1), new byte[8]);
    }
    return 0;
  }

  static long time(Call c) {
    long sec = now(null, CLOCK_REALTIME) / 1_000_000_000L;
    if (c.a(0) != 0) {
      c.mem().writeLong(c.a(0), sec);
    }
    return sec;
  }

  static long nanosleep(Call c) {
    return sleep(c, CLOCK_MONOTONIC, 0, c.a(0), c.a(1));
  }

  static long clockNanosleep(Call c) {
    return sleep(c, c.i(0), c.i(1), c.a(2), c.a(3));
  }

  /** The clock's value in nanoseconds, for task {@code t} (the CPU-time clocks are its own). */
  static long now(Task t, int clock) {
    return switch (clock) {
      case CLOCK_REALTIME, CLOCK_REALTIME_COARSE, CLOCK_TAI -> {
        Instant i = Instant.now();
        yield i.getEpochSecond() * 1_000_000_000L + i.getNano() + (clock == CLOCK_TAI ? 37_000_000_000L : 0);
      }
      case CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME -> System.nanoTime();
      case CLOCK_PROCESS_CPUTIME_ID -> t.process().cpuTimes()[0];
      case CLOCK_THREAD_CPUTIME_ID -> t.cpuTimes()[0];
      default -> throw new SyscallError(LinuxErrno.EINVAL, "clock " + clock);
    };
  }

  private static void writeTimespec(Call c, long addr, long nanos) {
    ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(0, nanos / 1_000_000_000L).putLong(8, nanos % 1_000_000_000L);
    c.mem().writeBytes(addr, b.array());
  }

  /** A timespec's value in nanoseconds (EINVAL if malformed). */
  static long readTimespec(Call c, long addr) {
    long sec = c.mem().readLong(addr);
    long nsec = c.mem().readLong(addr + 8);
    if (sec < 0 || nsec < 0 || nsec >= 1_000_000_000L) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return sec > Long.MAX_VALUE / 1_000_000_000L - 1 ? Long.MAX_VALUE / 2 : sec * 1_000_000_000L + nsec;
  }

  /** A nanoTime deadline a relative timespec from now (never 0, which means "none"). */
  static long deadlineFromTimespec(Call c, long addr) {
    long d = System.nanoTime() + Math.min(readTimespec(c, addr), Long.MAX_VALUE / 4);
    return d == 0 ? 1 : d;
  }

  /** A nanoTime deadline from an absolute timespec on {@code clock}. */
  static long absoluteDeadline(Call c, long addr, int clock) {
    long target = readTimespec(c, addr);
    long d = System.nanoTime() + Math.max(0, target - now(c.thread, clock));
    return d == 0 ? 1 : d;
  }

  private static long sleep(Call c, int clock, int flags, long req, long rem) {
    if (clock == CLOCK_THREAD_CPUTIME_ID || clock < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    now(c.thread, clock);
    if ((flags & ~TIMER_ABSTIME) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    long deadline = (flags & TIMER_ABSTIME) != 0 ? absoluteDeadline(c, req, clock) : deadlineFromTimespec(c, req);
    if (c.thread.blocker().sleepUntil(deadline) == Blocker.Wait.SIGNAL) {
      if (rem != 0 && (flags & TIMER_ABSTIME) == 0) {
        writeTimespec(c, rem, Math.max(0, deadline - System.nanoTime()));
      }
      throw new SyscallError(SignalDelivery.ERESTARTNOHAND);
    }
    return 0;
  }

  static long getrandom(Call c) {
    int flags = c.i(2);
    if ((flags & ~7) != 0 || (flags & 6) == 6) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    int len = (int) Math.min(c.a(1) & 0xffffffffL, GETRANDOM_MAX);
    byte[] b = new byte[Math.min(len, Call.CHUNK)];
    int done = 0;
    while (done < len) {
      int n = Math.min(b.length, len - done);
      c.kernel.randomBytes(b);
      c.mem().write(c.a(0) + done, java.lang.foreign.MemorySegment.ofArray(b), 0, n);
      done += n;
    }
    return done;
  }
}
