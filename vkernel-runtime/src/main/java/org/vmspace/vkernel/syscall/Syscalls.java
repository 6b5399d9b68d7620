package org.vmspace.vkernel.syscall;

import java.util.ArrayList;
import java.util.List;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VmspaceException;
import org.vmspace.vkernel.proc.Kernel;
import org.vmspace.vkernel.proc.SignalDelivery;
import org.vmspace.vkernel.proc.SyscallTable;
import org.vmspace.vkernel.proc.Task;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.PathBytes;
import org.vmspace.vkernel.sys.SyscallError;
import org.vmspace.vkernel.trace.Trace;

/**
 * The dispatcher of the system call table ({@code Linux64}): decodes the call from the frame,
 * runs its handler, puts the result (or {@code -errno}) in {@code rax}, and traces it.
 *
 * <p>Handlers throw {@link SyscallError}; {@code ERESTARTSYS} and {@code ERESTARTNOHAND} mark a
 * blocking call a signal interrupted (see {@link Task}). A number without a handler
 * returns {@code ENOSYS}.
 */
public final class Syscalls implements SyscallTable {
  /** A handler's result that leaves rax alone (rt_sigreturn, a successful execve, exit). */
  static final long NO_RETURN = Long.MIN_VALUE;

  /** One system call's handler. */
  @FunctionalInterface
  interface Handler {
    long call(Call c);
  }

  /**
   * An entry of the table.
   *
   * @param args how to print the arguments, one letter each (see {@link ArgFormat})
   * @param hexResult print the result in hex (addresses)
   */
  record Entry(int nr, String name, String args, boolean hexResult, Handler handler) {}

  private static final int SIZE = 512;
  /**
   * The {@link Call} of the task each carrier thread runs now. A system call is dispatched on its
   * task's own thread ({@link SyscallTable#dispatch}), so this is made once per task a carrier
   * runs, not once per call (issue 17: the guest-thread loop allocates nothing per call). It
   * keeps the carrier's last task reachable until the carrier runs another or ends (carriers end
   * when idle, and with their kernel).
   */
  private static final ThreadLocal<Call> CALLS = new ThreadLocal<>();
  private final Entry[] table = new Entry[SIZE];
  private final Kernel kernel;

  public Syscalls(Kernel kernel) {
    this.kernel = kernel;
    for (Entry e : Linux64.TABLE) {
      add(e);
    }
  }

  private void add(Entry e) {
    if (table[e.nr()] != null) {
      throw new IllegalStateException("system call " + e.nr() + " defined twice");
    }
    table[e.nr()] = e;
  }

  /** The name of system call {@code nr}, or {@code syscall_NNN}. */
  @Override
  public String name(long nr) {
    return nameOf(nr);
  }

  /** Linux's names by number, from the table; null where it has no handler. */
  private static final String[] NAMES = new String[SIZE];

  static {
    for (Entry e : Linux64.TABLE) {
      NAMES[e.nr()] = e.name();
    }
  }

  /** The name of Linux x86-64 system call {@code nr} in this table, or {@code syscall_NNN}. */
  public static String nameOf(long nr) {
    String name = nr >= 0 && nr < SIZE ? NAMES[(int) nr] : null;
    return name != null ? name : "syscall_" + nr;
  }

  /** The system calls with handlers, in number order. */
  public List<String> names() {
    List<String> out = new ArrayList<>();
    for (Entry e : table) {
      if (e != null) {
        out.add(e.name());
      }
    }
    return out;
  }

  /** {@code t}'s call, made at its first system call on this thread. */
  private static Call callOf(Task t) {
    Call c = CALLS.get();
    if (c == null || c.thread != t) {
      c = new Call(t);
      CALLS.set(c);
    }
    return c;
  }

  @Override
  public void dispatch(Task t) {
    TrapFrame f = t.frame;
    long nr = f.rax();
    Entry e = nr >= 0 && nr < SIZE ? table[(int) nr] : null;
    Trace trace = kernel.trace();
    String text = null;
    long start = 0;
    int pid = t.tid(); // strace -f names the thread
    if (trace != null) {
      text = ArgFormat.format(e, nr, callOf(t));
      start = System.nanoTime();
    }
    long result;
    String detail = null;
    if (e == null) {
      result = -LinuxErrno.ENOSYS;
    } else {
      try {
        result = e.handler().call(callOf(t));
      } catch (SyscallError err) {
        int errno = err.errno();
        if (errno == LinuxErrno.ERESTARTSYS || errno == SignalDelivery.ERESTARTNOHAND) {
          t.delivery().restartAfterSignal(errno, nr);
          errno = LinuxErrno.EINTR;
        }
        result = -errno;
        detail = err.getMessage();
        int colon = detail == null ? -1 : detail.indexOf(": ");
        detail = colon < 0 ? null : detail.substring(colon + 2);
      } catch (VmspaceException ve) {
        result = -ve.errno().code();
        detail = ve.getMessage();
      }
    }
    if (result != NO_RETURN) {
      f.rax(result);
    }
    if (trace != null) {
      if (result == NO_RETURN) {
        if (t.exiting()) {
          trace.noReturn(pid, text);
        } else {
          trace.call(pid, text, 0, false, null, System.nanoTime() - start);
        }
      } else {
        trace.call(pid, text, result, e != null && e.hexResult(), detail, System.nanoTime() - start);
      }
    }
  }

  /** Argument printing for traces. */
  static final class ArgFormat {
    private ArgFormat() {}

    /**
     * The call as strace shows it. Letters: d int, u unsigned, x pointer, f fd, F dirfd (with
     * AT_FDCWD), s string, o octal, O open flags, S signal, w write buffer (the next argument is
     * its length), v string vector, P mmap prot, M mmap flags, y fd with the path it is open on
     * (as {@code strace -y}: {@code 3</usr/lib/x86_64-linux-gnu/libc.so.6>}).
     */
    static String format(Entry e, long nr, Call c) {
      if (e == null) {
        return "syscall_" + nr + "(0x" + Long.toHexString(c.a(0)) + ", 0x" + Long.toHexString(c.a(1)) + ", 0x"
            + Long.toHexString(c.a(2)) + ")";
      }
      StringBuilder sb = new StringBuilder(e.name()).append('(');
      String spec = e.args();
      for (int i = 0; i < spec.length(); i++) {
        if (i > 0) {
          sb.append(", ");
        }
        long v = c.a(i);
        try {
          sb.append(arg(spec.charAt(i), v, i, c));
        } catch (SyscallError | VmspaceException err) {
          sb.append("0x").append(Long.toHexString(v));
        }
      }
      return sb.append(')').toString();
    }

    private static String arg(char kind, long v, int i, Call c) {
      return switch (kind) {
        case 'd' -> Integer.toString((int) v);
        case 'u' -> Long.toUnsignedString(v);
        case 'x' -> v == 0 ? "NULL" : "0x" + Long.toHexString(v);
        case 'f' -> Integer.toString((int) v);
        case 'y' -> fdWithPath((int) v, c);
        case 'F' -> (int) v == -100 ? "AT_FDCWD" : Integer.toString((int) v);
        case 's' -> v == 0 ? "NULL" : Trace.quote(c.mem().readCStringBytes(v, 4096), 256);
        case 'o' -> "0" + Integer.toOctalString((int) v);
        case 'O' -> openFlags((int) v);
        case 'S' -> Signals.name((int) v);
        case 'w' -> {
          int len = (int) Math.min(Math.max(c.a(i + 1), 0), 32);
          yield v == 0 ? "NULL" : Trace.quote(c.mem().readBytes(v, len), 32) + (c.a(i + 1) > 32 ? "..." : "");
        }
        case 'v' -> {
          if (v == 0) {
            yield "NULL";
          }
          List<byte[]> items = c.mem().readStringArray(v, 64, 64L * 128 * 1024);
          StringBuilder sb = new StringBuilder("[");
          for (int k = 0; k < items.size(); k++) {
            sb.append(k > 0 ? ", " : "").append(Trace.quote(items.get(k), 64));
          }
          yield sb.append(']').toString();
        }
        case 'P' -> prot((int) v);
        case 'M' -> mapFlags((int) v);
        default -> "0x" + Long.toHexString(v);
      };
    }

    private static String fdWithPath(int fd, Call c) {
      if (fd < 0) {
        return Integer.toString(fd);
      }
      String path;
      try {
        path = c.fds().get(fd).path();
      } catch (SyscallError notOpen) {
        return Integer.toString(fd);
      }
      if (path == null || path.isEmpty()) {
        return Integer.toString(fd);
      }
      String quoted = Trace.quote(PathBytes.bytes(path), 4096); // escapes control bytes, as strace
      return fd + "<" + quoted.substring(1, quoted.lastIndexOf('"')) + ">";
    }

    static String openFlags(int f) {
      StringBuilder sb = new StringBuilder(switch (f & 3) {
        case 0 -> "O_RDONLY";
        case 1 -> "O_WRONLY";
        case 2 -> "O_RDWR";
        default -> "O_ACCMODE";
      });
      String[][] bits = {
        {"40", "O_CREAT"}, {"80", "O_EXCL"}, {"100", "O_NOCTTY"}, {"200", "O_TRUNC"}, {"400", "O_APPEND"},
        {"800", "O_NONBLOCK"}, {"10000", "O_DIRECTORY"}, {"20000", "O_NOFOLLOW"}, {"80000", "O_CLOEXEC"},
        {"200000", "O_PATH"}, {"8000", "O_LARGEFILE"},
      };
      for (String[] b : bits) {
        if ((f & Integer.parseInt(b[0], 16)) != 0) {
          sb.append('|').append(b[1]);
        }
      }
      return sb.toString();
    }

    static String prot(int p) {
      if (p == 0) {
        return "PROT_NONE";
      }
      List<String> s = new ArrayList<>();
      if ((p & 1) != 0) {
        s.add("PROT_READ");
      }
      if ((p & 2) != 0) {
        s.add("PROT_WRITE");
      }
      if ((p & 4) != 0) {
        s.add("PROT_EXEC");
      }
      return String.join("|", s);
    }

    static String mapFlags(int f) {
      List<String> s = new ArrayList<>();
      s.add((f & 3) == 1 ? "MAP_SHARED" : (f & 3) == 2 ? "MAP_PRIVATE" : "MAP_TYPE_" + (f & 3));
      String[][] bits = {
        {"10", "MAP_FIXED"}, {"20", "MAP_ANONYMOUS"}, {"100", "MAP_GROWSDOWN"}, {"4000", "MAP_NORESERVE"},
        {"8000", "MAP_POPULATE"}, {"20000", "MAP_STACK"}, {"100000", "MAP_FIXED_NOREPLACE"},
      };
      for (String[] b : bits) {
        if ((f & Integer.parseInt(b[0], 16)) != 0) {
          s.add(b[1]);
        }
      }
      return String.join("|", s);
    }
  }
}
