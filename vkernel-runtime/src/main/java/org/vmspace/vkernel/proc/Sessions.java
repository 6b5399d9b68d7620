package org.vmspace.vkernel.proc;

import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * Process groups and sessions: setpgid, setsid, getpgid/getsid of another process, and the
 * terminal's foreground group. All under the kernel lock. As gVisor's {@code sessions.go}.
 */
public final class Sessions {
  private Sessions() {}

  /** setpgid(2). */
  public static void setpgid(Task t, int pid, int pgid) {
    Kernel k = t.kernel();
    ThreadGroup self = t.process;
    if (pgid < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    k.lock.lock();
    try {
      ThreadGroup target = pid == 0 ? self : k.processes.get(pid);
      if (target == null || target.zombie || (target != self && target.parent != self)) {
        throw new SyscallError(LinuxErrno.ESRCH);
      }
      if (target != self && target.execed) {
        throw new SyscallError(LinuxErrno.EACCES);
      }
      if (target.sid == target.pid || target.sid != self.sid) {
        throw new SyscallError(LinuxErrno.EPERM);
      }
      int group = pgid == 0 ? target.pid : pgid;
      if (group != target.pid) {
        boolean exists = false;
        for (ThreadGroup p : k.processes.values()) {
          if (p.pgid == group && p.sid == self.sid && !p.zombie) {
            exists = true;
            break;
          }
        }
        if (!exists) {
          throw new SyscallError(LinuxErrno.EPERM);
        }
      }
      target.pgid = group;
    } finally {
      k.lock.unlock();
    }
  }

  /** getpgid(2)/getsid(2) of another process. */
  public static int pgidOf(Kernel k, int pid, boolean session) {
    k.lock.lock();
    try {
      ThreadGroup p = k.processes.get(pid);
      if (p == null) {
        throw new SyscallError(LinuxErrno.ESRCH);
      }
      return session ? p.sid : p.pgid;
    } finally {
      k.lock.unlock();
    }
  }

  /** setsid(2). */
  public static int setsid(Task t) {
    Kernel k = t.kernel();
    ThreadGroup self = t.process;
    k.lock.lock();
    try {
      for (ThreadGroup p : k.processes.values()) {
        if (p.pgid == self.pid) {
          throw new SyscallError(LinuxErrno.EPERM);
        }
      }
      self.sid = self.pid;
      self.pgid = self.pid;
      return self.pid;
    } finally {
      k.lock.unlock();
    }
  }

  /** The terminal's foreground process group (TIOCGPGRP). */
  public static int foregroundPgrp(Kernel k) {
    k.lock.lock();
    try {
      return k.foregroundPgrp;
    } finally {
      k.lock.unlock();
    }
  }

  /** TIOCSPGRP: a group of the caller's session. */
  public static void foregroundPgrp(Task t, int pgrp) {
    Kernel k = t.kernel();
    k.lock.lock();
    try {
      if (pgrp < 0) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
      boolean exists = false;
      for (ThreadGroup p : k.processes.values()) {
        if (p.pgid == pgrp && p.sid == t.process.sid) {
          exists = true;
          break;
        }
      }
      if (!exists) {
        throw new SyscallError(LinuxErrno.EPERM);
      }
      k.foregroundPgrp = pgrp;
    } finally {
      k.lock.unlock();
    }
  }

}
