package org.vmspace.vkernel.proc;

import org.vmspace.vkernel.mem.AddressSpace;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * clone(2) and its spellings (fork, vfork): a new task in a new thread group, with a
 * copy-on-write or shared address space, copied or shared descriptors, the parent's
 * dispositions and registers. As gVisor's {@code task_clone.go}.
 *
 * <p>Methods run on the calling guest thread and throw {@link SyscallError} with the errno
 * Linux gives.
 */
public final class TaskClone {
  private TaskClone() {}

  /** clone(2) flags this kernel knows. */
  public static final long CLONE_VM = 0x100;
  public static final long CLONE_FS = 0x200;
  public static final long CLONE_FILES = 0x400;
  public static final long CLONE_SIGHAND = 0x800;
  public static final long CLONE_PIDFD = 0x1000;
  public static final long CLONE_PTRACE = 0x2000;
  public static final long CLONE_VFORK = 0x4000;
  public static final long CLONE_PARENT = 0x8000;
  public static final long CLONE_THREAD = 0x10000;
  public static final long CLONE_SYSVSEM = 0x40000;
  public static final long CLONE_SETTLS = 0x80000;
  public static final long CLONE_PARENT_SETTID = 0x100000;
  public static final long CLONE_CHILD_CLEARTID = 0x200000;
  public static final long CLONE_DETACHED = 0x400000;
  public static final long CLONE_UNTRACED = 0x800000;
  public static final long CLONE_CHILD_SETTID = 0x1000000;
  private static final long CLONE_SUPPORTED = 0xff | CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_VFORK
      | CLONE_PARENT | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID
      | CLONE_DETACHED | CLONE_UNTRACED | CLONE_CHILD_SETTID | CLONE_PTRACE;

  /**
   * clone(2) for new processes (fork, vfork and their clone spellings): the child gets a
   * copy-on-write copy of the address space (or shares it with CLONE_VM), copies of the
   * descriptors (or shares them with CLONE_FILES), of the dispositions and of the thread's
   * registers, with rax 0.
   *
   * @return the child's pid
   * @throws SyscallError EINVAL for flag combinations Linux refuses, ENOSYS for threads
   *     (CLONE_THREAD, CLONE_SIGHAND) which this kernel does not run yet, EAGAIN, ENOMEM
   */
  public static int clone(Task t, long flags, long newSp, long parentTid, long childTid, long tls) {
    Kernel k = t.kernel();
    if ((flags & (CLONE_THREAD | CLONE_SIGHAND)) != 0) {
      if ((flags & CLONE_SIGHAND) != 0 && (flags & CLONE_VM) == 0
          || (flags & CLONE_THREAD) != 0 && (flags & CLONE_SIGHAND) == 0) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
      throw new SyscallError(LinuxErrno.ENOSYS, "threads (CLONE_THREAD) are not supported");
    }
    if ((flags & ~CLONE_SUPPORTED) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL, String.format("clone flags 0x%x", flags & ~CLONE_SUPPORTED));
    }
    ThreadGroup parent = t.process;
    ThreadGroup child;
    Task ct;
    AddressSpace mm;
    if ((flags & CLONE_VM) != 0) {
      mm = parent.mm.retain();
    } else {
      mm = parent.mm.fork(k.newVmspaceId());
    }
    k.lock.lock();
    try {
      int pid;
      try {
        pid = k.allocatePid();
      } catch (SyscallError e) {
        k.lock.unlock();
        try {
          mm.release();
        } finally {
          k.lock.lock();
        }
        throw e;
      }
      child = new ThreadGroup(k, pid, parent.uid, parent.gid);
      child.mm = mm;
      child.parent = (flags & CLONE_PARENT) != 0 ? parent.parent : parent;
      child.pgid = parent.pgid;
      child.sid = parent.sid;
      child.cwd = parent.cwd;
      child.umask = parent.umask;
      child.exePath = parent.exePath;
      child.cmdline = parent.cmdline;
      child.comm = parent.comm;
      child.exitSignal = (int) (flags & 0xff);
      child.fds = (flags & CLONE_FILES) != 0 ? parent.fds.share() : parent.fds.copy();
      Limits.copy(parent.rlimits, child.rlimits);
      parent.copyActionsTo(child);
      ct = new Task(k, child, pid);
      ct.frame.copyFrom(t.frame).rax(0);
      if (newSp != 0) {
        ct.frame.rsp(newSp);
      }
      ct.mask(t.mask());
      ct.affinity(t.affinity());
      ct.vext().fsBase((flags & CLONE_SETTLS) != 0 ? tls : t.vext().fsBase()).gsBase(t.vext().gsBase());
      ct.altSp = t.altSp;
      ct.altSize = t.altSize;
      ct.altFlags = t.altFlags;
      if ((flags & CLONE_CHILD_CLEARTID) != 0) {
        ct.clearTid = childTid;
      }
      child.threads.add(ct);
      if (child.parent != null) {
        child.parent.children.add(child);
      }
      if ((flags & CLONE_VFORK) != 0) {
        child.vforkParent = t;
      }
      k.processes.put(pid, child);
    } finally {
      k.lock.unlock();
    }
    k.vms.copyVectorState(t.vext(), ct.vext());
    if ((flags & CLONE_PARENT_SETTID) != 0) {
      writeTid(parent.mm, parentTid, child.pid);
    }
    if ((flags & CLONE_CHILD_SETTID) != 0) {
      writeTid(child.mm, childTid, child.pid);
    }
    if (k.trace != null) {
      k.trace.event(child.pid, "started by " + parent.pid);
    }
    ct.start("vk-" + child.pid);
    if ((flags & CLONE_VFORK) != 0) {
      awaitVforkRelease(t, child);
    }
    return child.pid;
  }

  private static void writeTid(AddressSpace mm, long addr, int tid) {
    try {
      mm.memory().writeInt(addr, tid);
    } catch (SyscallError e) {
      // Linux ignores a bad tid pointer here too.
    }
  }

  /** The vfork parent sleeps until the child execs or exits (only SIGKILL ends the wait). */
  private static void awaitVforkRelease(Task t, ThreadGroup child) {
    Kernel k = t.kernel();
    while (true) {
      k.lock.lock();
      try {
        if (child.vforkParent == null) {
          return;
        }
      } finally {
        k.lock.unlock();
      }
      if (t.await(-1, (short) 0, 0, false) == Task.Wait.SIGNAL) {
        return;
      }
    }
  }

  static void releaseVfork(ThreadGroup p) {
    Kernel k = p.kernel();
    Task waiting;
    k.lock.lock();
    try {
      waiting = p.vforkParent;
      p.vforkParent = null;
    } finally {
      k.lock.unlock();
    }
    if (waiting != null) {
      waiting.wake(false);
    }
  }

}
