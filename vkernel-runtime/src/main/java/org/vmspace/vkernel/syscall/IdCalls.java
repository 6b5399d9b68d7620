package org.vmspace.vkernel.syscall;

import org.vmspace.vkernel.proc.Sessions;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * Ids: process and thread ids, user and group ids (every process runs with the user's own, so
 * the set calls accept only those), process groups and sessions.
 */
final class IdCalls {
  private IdCalls() {}

  static long getpid(Call c) {
    return c.process.pid();
  }

  static long gettid(Call c) {
    return c.thread.tid();
  }

  static long getppid(Call c) {
    return c.process.ppid();
  }

  static long getuid(Call c) {
    return c.process.uid();
  }

  static long geteuid(Call c) {
    return c.process.uid();
  }

  static long getgid(Call c) {
    return c.process.gid();
  }

  static long getegid(Call c) {
    return c.process.gid();
  }

  static long getresuid(Call c) {
    return writeIds(c, c.process.uid());
  }

  static long getresgid(Call c) {
    return writeIds(c, c.process.gid());
  }

  static long setuid(Call c) {
    return sameId(c.i(0), c.process.uid());
  }

  static long setgid(Call c) {
    return sameId(c.i(0), c.process.gid());
  }

  static long setreuid(Call c) {
    return sameIds(c, c.process.uid(), 2);
  }

  static long setregid(Call c) {
    return sameIds(c, c.process.gid(), 2);
  }

  static long setresuid(Call c) {
    return sameIds(c, c.process.uid(), 3);
  }

  static long setresgid(Call c) {
    return sameIds(c, c.process.gid(), 3);
  }

  static long setgroups(Call c) {
    throw new SyscallError(LinuxErrno.EPERM);
  }

  static long setpgid(Call c) {
    Sessions.setpgid(c.thread, c.i(0), c.i(1));
    return 0;
  }

  static long getpgid(Call c) {
    return c.i(0) == 0 ? c.process.pgid() : Sessions.pgidOf(c.kernel, c.i(0), false);
  }

  static long getpgrp(Call c) {
    return c.process.pgid();
  }

  static long setsid(Call c) {
    return Sessions.setsid(c.thread);
  }

  static long getsid(Call c) {
    return c.i(0) == 0 ? c.process.sid() : Sessions.pgidOf(c.kernel, c.i(0), true);
  }

  private static long writeIds(Call c, int id) {
    for (int i = 0; i < 3; i++) {
      c.mem().writeInt(c.a(i), id);
    }
    return 0;
  }

  private static long sameId(int requested, int current) {
    if (requested != current) {
      throw new SyscallError(LinuxErrno.EPERM, "the kernel runs every process with the user's ids");
    }
    return 0;
  }

  private static long sameIds(Call c, int current, int n) {
    for (int i = 0; i < n; i++) {
      int v = c.i(i);
      if (v != -1 && v != current) {
        throw new SyscallError(LinuxErrno.EPERM, "the kernel runs every process with the user's ids");
      }
    }
    return 0;
  }

  static long getgroups(Call c) {
    int size = c.i(0);
    if (size < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (size == 0) {
      return 1;
    }
    c.mem().writeInt(c.a(1), c.process.gid());
    return 1;
  }
}
