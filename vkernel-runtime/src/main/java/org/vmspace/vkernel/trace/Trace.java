package org.vmspace.vkernel.trace;

import java.io.PrintStream;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.PathBytes;

/**
 * strace-style output: one line per system call with its decoded arguments, result (or errno)
 * and duration, and lines for signals and exits:
 *
 * <pre>
 * [pid 2] openat(AT_FDCWD, "/etc/os-release", O_RDONLY) = 3 &lt;0.000031&gt;
 * [pid 2] read(3, 0x7fffffffd000, 4096) = 267 &lt;0.000012&gt;
 * [pid 3] --- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x0} ---
 * [pid 3] +++ killed by SIGSEGV +++
 * </pre>
 *
 * Thread-safe: each line is written whole.
 */
public final class Trace {
  private final PrintStream out;

  public Trace(PrintStream out) {
    this.out = out;
  }

  /** One system call. */
  public void call(int pid, String call, long result, boolean hexResult, String detail, long nanos) {
    StringBuilder sb = new StringBuilder(96);
    sb.append("[pid ").append(pid).append("] ").append(call).append(" = ");
    if (result < 0 && result > -4096) {
      sb.append("-1 ").append(LinuxErrno.name((int) -result));
      if (detail != null && !detail.isEmpty()) {
        sb.append(" (").append(detail).append(')');
      }
    } else if (hexResult) {
      sb.append("0x").append(Long.toHexString(result));
    } else {
      sb.append(result);
    }
    sb.append(String.format(" <%d.%06d>", nanos / 1_000_000_000L, (nanos / 1000) % 1_000_000));
    line(sb.toString());
  }

  /** A call that does not return (exit, a successful execve's old image is gone). */
  public void noReturn(int pid, String call) {
    line("[pid " + pid + "] " + call + " = ?");
  }

  /** A signal being delivered or killing the process. */
  public void signal(int pid, SigInfo info) {
    StringBuilder sb = new StringBuilder("[pid ").append(pid).append("] --- ").append(Signals.name(info.signo()))
        .append(" {si_signo=").append(Signals.name(info.signo())).append(", si_code=").append(code(info));
    int s = info.signo();
    if (s == Signals.SIGSEGV || s == Signals.SIGBUS || s == Signals.SIGILL || s == Signals.SIGFPE || s == Signals.SIGTRAP) {
      sb.append(", si_addr=0x").append(Long.toHexString(info.addr()));
    } else {
      sb.append(", si_pid=").append(info.pid()).append(", si_uid=").append(info.uid());
      if (s == Signals.SIGCHLD) {
        sb.append(", si_status=").append(info.code() == SigInfo.CLD_EXITED ? Integer.toString(info.status())
            : Signals.name(info.status()));
      }
    }
    sb.append("} ---");
    line(sb.toString());
  }

  /** A process event (start, exit). */
  public void event(int pid, String what) {
    line("[pid " + pid + "] " + what);
  }

  private void line(String s) {
    synchronized (out) {
      out.println(s);
      out.flush();
    }
  }

  private static String code(SigInfo info) {
    int c = info.code();
    if (info.signo() == Signals.SIGSEGV && c == SigInfo.SEGV_MAPERR) {
      return "SEGV_MAPERR";
    }
    if (info.signo() == Signals.SIGSEGV && c == SigInfo.SEGV_ACCERR) {
      return "SEGV_ACCERR";
    }
    if (info.signo() == Signals.SIGCHLD) {
      return switch (c) {
        case SigInfo.CLD_EXITED -> "CLD_EXITED";
        case SigInfo.CLD_KILLED -> "CLD_KILLED";
        case SigInfo.CLD_DUMPED -> "CLD_DUMPED";
        default -> Integer.toString(c);
      };
    }
    return switch (c) {
      case SigInfo.SI_USER -> "SI_USER";
      case SigInfo.SI_KERNEL -> "SI_KERNEL";
      case SigInfo.SI_TKILL -> "SI_TKILL";
      default -> Integer.toString(c);
    };
  }

  /** A string argument as strace quotes it, cut at {@code max} bytes. */
  public static String quote(byte[] s, int max) {
    StringBuilder sb = new StringBuilder("\"");
    int n = Math.min(s.length, max);
    for (int i = 0; i < n; i++) {
      int b = s[i] & 0xff;
      switch (b) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\t' -> sb.append("\\t");
        case '\r' -> sb.append("\\r");
        default -> {
          if (b >= 0x20 && b < 0x7f) {
            sb.append((char) b);
          } else {
            sb.append(String.format("\\%o", b));
          }
        }
      }
    }
    sb.append('"');
    if (s.length > max) {
      sb.append("...");
    }
    return sb.toString();
  }

  static String quote(String s) {
    return quote(PathBytes.bytes(s), 256);
  }
}
