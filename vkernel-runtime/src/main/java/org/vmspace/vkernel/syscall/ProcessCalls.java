package org.vmspace.vkernel.syscall;

import java.util.List;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.proc.Kernel;
import org.vmspace.vkernel.proc.TaskClone;
import org.vmspace.vkernel.proc.TaskExec;
import org.vmspace.vkernel.proc.TaskExit;
import org.vmspace.vkernel.proc.TaskSignals;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The life of processes and threads: clone, fork, vfork, execve, execveat, exit, exit_group,
 * wait4, waitid, kill, tkill, tgkill and set_tid_address. The work is the kernel's
 * ({@link Kernel}); these decode the arguments and write the results.
 */
final class ProcessCalls {
  /** The most argument and environment strings execve reads (the kernel's own limit). */
  private static final int MAX_ARG_STRINGS = 1 << 17;
  /** The most bytes of them it reads: the stack's 2 MiB for strings (see ElfLoader). */
  private static final long MAX_ARG_BYTES = 2L << 20;

  private ProcessCalls() {}

  static long clone(Call c) {
    return TaskClone.clone(c.thread, c.a(0), c.a(1), c.a(2), c.a(3), c.a(4));
  }

  static long fork(Call c) {
    return TaskClone.clone(c.thread, Signals.SIGCHLD, 0, 0, 0, 0);
  }

  static long vfork(Call c) {
    return TaskClone.clone(c.thread, TaskClone.CLONE_VM | TaskClone.CLONE_VFORK | Signals.SIGCHLD, 0, 0, 0, 0);
  }

  /** sizeof(struct clone_args) as first published (CLONE_ARGS_SIZE_VER0) and as known here (VER2). */
  private static final int CLONE_ARGS_SIZE_VER0 = 64;
  private static final int CLONE_ARGS_SIZE_VER2 = 88;
  private static final long CSIGNAL = 0xff;
  private static final long CLONE_INTO_CGROUP = 0x200000000L;

  /**
   * clone3(args, size): the fields of {@code struct clone_args} checked in Linux's order
   * (E2BIG for a size over a page or unknown non-zero bytes past the known struct, EINVAL for
   * one under version 0, an exit signal outside CSIGNAL, CSIGNAL bits or CLONE_DETACHED in the
   * flags, an exit signal with CLONE_THREAD or CLONE_PARENT, a stack without a size or a size
   * without a stack, set_tid and set_tid_size disagreeing), then as clone with the stack's top
   * as the new stack pointer. set_tid needs privilege (EPERM); CLONE_INTO_CGROUP is EINVAL
   * (there are no cgroups here).
   */
  static long clone3(Call c) {
    long addr = c.a(0);
    long size = c.a(1);
    if (Long.compareUnsigned(size, 4096) > 0) {
      throw new SyscallError(LinuxErrno.E2BIG);
    }
    if (size < CLONE_ARGS_SIZE_VER0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    byte[] raw = c.mem().readBytes(addr, (int) size);
    for (int i = CLONE_ARGS_SIZE_VER2; i < raw.length; i++) {
      if (raw[i] != 0) {
        throw new SyscallError(LinuxErrno.E2BIG);
      }
    }
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(java.util.Arrays.copyOf(raw, CLONE_ARGS_SIZE_VER2))
        .order(java.nio.ByteOrder.LITTLE_ENDIAN);
    long flags = b.getLong(0);
    long childTid = b.getLong(16);
    long parentTid = b.getLong(24);
    long exitSignal = b.getLong(32);
    long stack = b.getLong(40);
    long stackSize = b.getLong(48);
    long tls = b.getLong(56);
    long setTid = size >= 80 ? b.getLong(64) : 0;
    long setTidSize = size >= 80 ? b.getLong(72) : 0;
    if ((exitSignal & ~CSIGNAL) != 0 || exitSignal > Signals.NSIG) {
      throw new SyscallError(LinuxErrno.EINVAL, "exit_signal");
    }
    if ((flags & CLONE_INTO_CGROUP) != 0 || (flags & (CSIGNAL | TaskClone.CLONE_DETACHED)) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if ((flags & (TaskClone.CLONE_SIGHAND | TaskClone.CLONE_CLEAR_SIGHAND))
        == (TaskClone.CLONE_SIGHAND | TaskClone.CLONE_CLEAR_SIGHAND)) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if ((flags & (TaskClone.CLONE_THREAD | TaskClone.CLONE_PARENT)) != 0 && exitSignal != 0) {
      throw new SyscallError(LinuxErrno.EINVAL, "exit_signal with CLONE_THREAD or CLONE_PARENT");
    }
    if (stack == 0 ? stackSize != 0 : stackSize == 0) {
      throw new SyscallError(LinuxErrno.EINVAL, "stack and stack_size");
    }
    if (setTidSize > 32 || (setTid == 0) != (setTidSize == 0)) {
      throw new SyscallError(LinuxErrno.EINVAL, "set_tid");
    }
    if (setTidSize > 0) {
      throw new SyscallError(LinuxErrno.EPERM, "set_tid needs CAP_SYS_ADMIN");
    }
    long sp = stack == 0 ? 0 : Math.addExact(stack, stackSize);
    return TaskClone.clone(c.thread, flags | exitSignal, sp, parentTid, childTid, tls);
  }

  static long execve(Call c) {
    return execve(c, c.path(0), c.a(1), c.a(2));
  }

  /** exit(2): this thread only; the process ends when its last thread has (with this status). */
  static long exit(Call c) {
    c.thread.exitAlone((c.i(0) & 0xff) << 8);
    return Syscalls.NO_RETURN;
  }

  /** exit_group(2): every thread of the process. */
  static long exitGroup(Call c) {
    c.process.requestExit((c.i(0) & 0xff) << 8);
    return Syscalls.NO_RETURN;
  }

  static long kill(Call c) {
    TaskSignals.kill(c.thread, c.i(0), c.i(1));
    return 0;
  }

  static long tkill(Call c) {
    TaskSignals.tgkill(c.thread, -1, c.i(0), c.i(1));
    return 0;
  }

  static long tgkill(Call c) {
    TaskSignals.tgkill(c.thread, c.i(0), c.i(1), c.i(2));
    return 0;
  }

  static long setTidAddress(Call c) {
    c.thread.clearTid(c.a(0));
    return c.thread.tid();
  }

  private static long execve(Call c, String path, long argv, long envp) {
    List<byte[]> args = c.mem().readStringArray(argv, MAX_ARG_STRINGS, MAX_ARG_BYTES);
    List<byte[]> env = c.mem().readStringArray(envp, MAX_ARG_STRINGS, MAX_ARG_BYTES);
    TaskExec.execve(c.thread, path, args, env);
    return Syscalls.NO_RETURN;
  }

  static long execveat(Call c) {
    int flags = c.i(4);
    String path = c.path(1);
    if ((flags & ~(FileCalls.AT_EMPTY_PATH | FileCalls.AT_SYMLINK_NOFOLLOW)) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    String full;
    if (path.isEmpty()) {
      if ((flags & FileCalls.AT_EMPTY_PATH) == 0) {
        throw new SyscallError(LinuxErrno.ENOENT);
      }
      FileDescription d = c.fds().get(c.i(0));
      full = d.path();
    } else if (path.startsWith("/") || c.i(0) == FileCalls.AT_FDCWD) {
      full = path;
    } else {
      full = FileCalls.base(c, c.i(0), path) + "/" + path;
    }
    return execve(c, full, c.a(2), c.a(3));
  }

  private static int waitOptions(int options, int allowed) {
    if ((options & ~allowed) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return options;
  }

  static long wait4(Call c) {
    int options = waitOptions(c.i(2), TaskExit.WNOHANG | TaskExit.WUNTRACED | TaskExit.WCONTINUED | 0x20000000
        | TaskExit.WALL | TaskExit.WCLONE);
    int which = c.i(0);
    if (which == Integer.MIN_VALUE) {
      throw new SyscallError(LinuxErrno.ESRCH);
    }
    TaskExit.Reaped r = TaskExit.wait(c.thread, which, options);
    if (r == null) {
      return 0;
    }
    if (c.a(1) != 0) {
      c.mem().writeInt(c.a(1), r.status());
    }
    if (c.a(3) != 0) {
      c.mem().writeBytes(c.a(3), new byte[144]);
    }
    return r.pid();
  }

  static long waitid(Call c) {
    int idtype = c.i(0);
    int id = c.i(1);
    int options = waitOptions(c.i(3), TaskExit.WNOHANG | 2 /* WSTOPPED */ | 4 /* WEXITED */ | TaskExit.WCONTINUED
        | TaskExit.WNOWAIT | 0x20000000 | TaskExit.WALL | TaskExit.WCLONE);
    if ((options & (2 | 4 | TaskExit.WCONTINUED)) == 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    int which = switch (idtype) {
      case 0 -> -1; // P_ALL
      case 1 -> id; // P_PID
      case 2 -> id == 0 ? 0 : -id; // P_PGID
      default -> throw new SyscallError(LinuxErrno.EINVAL);
    };
    if (idtype != 0 && id <= 0 && idtype == 1) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if ((options & 4) == 0) {
      // Only stopped/continued children asked for: this kernel stops nobody.
      if ((options & TaskExit.WNOHANG) != 0) {
        writeChildInfo(c, null);
        return 0;
      }
      throw new SyscallError(LinuxErrno.ECHILD);
    }
    int kopts = (options & (TaskExit.WNOHANG | TaskExit.WNOWAIT | TaskExit.WALL | TaskExit.WCLONE));
    TaskExit.Reaped r = TaskExit.wait(c.thread, which, kopts);
    writeChildInfo(c, r);
    return 0;
  }

  private static void writeChildInfo(Call c, TaskExit.Reaped r) {
    if (c.a(2) == 0) {
      return;
    }
    byte[] info = new byte[128];
    if (r != null) {
      int sig = r.status() & 0x7f;
      SigInfo si = new SigInfo(Signals.SIGCHLD, sig != 0 ? SigInfo.CLD_KILLED : SigInfo.CLD_EXITED, r.pid(), r.uid(), 0,
          sig != 0 ? sig : (r.status() >> 8) & 0xff);
      info = si.toBytes();
    }
    c.mem().writeBytes(c.a(2), info);
  }
}
