package org.vmspace.vkernel.signal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * What a signalfd(2) read returns for one signal: Linux's 128-byte {@code struct
 * signalfd_siginfo}, filled from a {@link SigInfo} the way Linux's {@code signalfd_copyinfo}
 * does, by the layout {@code siginfo_layout} picks for the signal and its code; and the mask a
 * signalfd takes (SIGKILL and SIGSTOP silently removed). Pure functions.
 */
public final class SignalFdInfo {
  /** sizeof(struct signalfd_siginfo). */
  public static final int SIZE = 128;
  /** SFD_NONBLOCK (O_NONBLOCK). */
  public static final int SFD_NONBLOCK = 0x800;
  /** SFD_CLOEXEC (O_CLOEXEC). */
  public static final int SFD_CLOEXEC = 0x80000;

  // Offsets of the fields this kernel's siginfo can fill.
  private static final int SSI_SIGNO = 0;
  private static final int SSI_ERRNO = 4;
  private static final int SSI_CODE = 8;
  private static final int SSI_PID = 12;
  private static final int SSI_UID = 16;
  private static final int SSI_STATUS = 40;
  private static final int SSI_ADDR = 72;

  /** Linux's siginfo layouts that the kernel's SigInfo can carry. */
  enum Layout {
    KILL,
    FAULT,
    CHLD,
    POLL,
    SYS,
    RT,
    TIMER
  }

  private static final int SI_TIMER = -2;
  private static final int SI_SIGIO = -5;
  private static final int SIGPOLL = 29;

  private SignalFdInfo() {}

  /**
   * The mask a signalfd watches for the guest's {@code sigset_t}: SIGKILL and SIGSTOP cannot be
   * read through a signalfd, and Linux drops them without an error.
   */
  public static long mask(long guestMask) {
    return guestMask & ~Signals.UNBLOCKABLE;
  }

  /**
   * Linux's {@code siginfo_layout}: which union member a signal with this code carries. Codes
   * above SI_USER and below SI_KERNEL are the kernel's own per-signal codes (within each signal's
   * count of them); SI_USER and SI_KERNEL carry a pid and uid; SI_TIMER a timer; negative codes
   * (sigqueue, tkill, SI_ASYNCIO, ...) the real-time pid, uid and value.
   */
  static Layout layout(int sig, int code) {
    if (code > SigInfo.SI_USER && code < SigInfo.SI_KERNEL) {
      int limit;
      Layout l;
      switch (sig) {
        case Signals.SIGILL -> {
          limit = 11;
          l = Layout.FAULT;
        }
        case Signals.SIGFPE -> {
          limit = 15;
          l = Layout.FAULT;
        }
        case Signals.SIGSEGV -> {
          limit = 10;
          l = Layout.FAULT;
        }
        case Signals.SIGBUS -> {
          limit = 5;
          l = Layout.FAULT;
        }
        case Signals.SIGTRAP -> {
          limit = 6;
          l = Layout.FAULT;
        }
        case Signals.SIGCHLD -> {
          limit = 6;
          l = Layout.CHLD;
        }
        case SIGPOLL -> {
          limit = 6;
          l = Layout.POLL;
        }
        case Signals.SIGSYS -> {
          limit = 2;
          l = Layout.SYS;
        }
        default -> {
          limit = 6; // NSIGPOLL: Linux's fallback for other signals with small codes
          l = Layout.POLL;
        }
      }
      return code <= limit ? l : Layout.KILL;
    }
    if (code == SI_TIMER) {
      return Layout.TIMER;
    }
    if (code == SI_SIGIO) {
      return Layout.POLL;
    }
    return code < 0 ? Layout.RT : Layout.KILL;
  }

  /**
   * Encodes {@code info} as a {@code struct signalfd_siginfo} into {@code out} at {@code off}
   * (128 bytes, all of them written: fields the layout does not carry are zero).
   */
  public static void encode(SigInfo info, byte[] out, int off) {
    ByteBuffer b = ByteBuffer.wrap(out, off, SIZE).slice().order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < SIZE; i += 8) {
      b.putLong(i, 0);
    }
    b.putInt(SSI_SIGNO, info.signo());
    b.putInt(SSI_ERRNO, 0);
    b.putInt(SSI_CODE, info.code());
    switch (layout(info.signo(), info.code())) {
      case KILL, RT -> {
        // SIL_RT's ssi_ptr and ssi_int: the kernel queues no sigqueue values, so they are 0.
        b.putInt(SSI_PID, info.pid());
        b.putInt(SSI_UID, info.uid());
      }
      case CHLD -> {
        // ssi_utime and ssi_stime stay 0: the kernel keeps no children's CPU times.
        b.putInt(SSI_PID, info.pid());
        b.putInt(SSI_UID, info.uid());
        b.putInt(SSI_STATUS, info.status());
      }
      case FAULT -> b.putLong(SSI_ADDR, info.addr());
      case POLL, SYS, TIMER -> {
        // The kernel raises no SIGIO, seccomp or POSIX-timer signals: nothing in the union.
      }
    }
  }

  /** {@link #encode} into a new array. */
  public static byte[] encode(SigInfo info) {
    byte[] out = new byte[SIZE];
    encode(info, out, 0);
    return out;
  }
}
