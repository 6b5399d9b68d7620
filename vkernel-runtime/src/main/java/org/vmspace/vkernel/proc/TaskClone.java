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
  /** clone3 only: the child's handlers (not SIG_IGN) reset to SIG_DFL. */
  public static final long CLONE_CLEAR_SIGHAND = 0x100000000L;
  private static final long CLONE_SUPPORTED = 0xff | CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_VFORK
      | CLONE_PARENT | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID
      | CLONE_DETACHED | CLONE_UNTRACED | CLONE_CHILD_SETTID | CLONE_PTRACE | CLONE_CLEAR_SIGHAND;

  /**
   * clone(2) for new processes (fork, vfork and their clone spellings): the child gets a
   * copy-on-write copy of the address space (or shares it with CLONE_VM), copies of the
   * descriptors (or shares them with CLONE_FILES), of the dispositions and of the thread's
   * registers, with rax 0.
   *
   * <p>With CLONE_THREAD it makes a thread instead: see {@link #cloneThread}.
   *
   * @return the child's pid, or the new thread's id
   * @throws SyscallError EINVAL for flag combinations Linux refuses (CLONE_SIGHAND without
   *     CLONE_VM, CLONE_THREAD without CLONE_SIGHAND, unknown flags), ENOSYS for CLONE_SIGHAND
   *     without CLONE_THREAD, EAGAIN at RLIMIT_NPROC or the kernel's task cap (see {@link
   *     Kernel#checkTaskLimits}) or when the host makes no thread for the child, ENOMEM past the
   *     memory budget
   */
  public static int clone(Task t, long flags, long newSp, long parentTid, long childTid, long tls) {
    Kernel k = t.kernel();
    if ((flags & CLONE_SIGHAND) != 0 && (flags & CLONE_VM) == 0
        || (flags & CLONE_THREAD) != 0 && (flags & CLONE_SIGHAND) == 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    long known = CLONE_SUPPORTED | CLONE_THREAD | CLONE_SIGHAND;
    if ((flags & ~known) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL, String.format("clone flags 0x%x", flags & ~known));
    }
    if ((flags & CLONE_THREAD) != 0) {
      return cloneThread(t, flags, newSp, parentTid, childTid, tls);
    }
    if ((flags & CLONE_SIGHAND) != 0) {
      throw new SyscallError(LinuxErrno.ENOSYS, "CLONE_SIGHAND without CLONE_THREAD (a process sharing its"
          + " parent's handlers) is not supported");
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
        if (k.end.ending()) {
          throw new SyscallError(LinuxErrno.ERESTARTSYS); // every process is being killed
        }
        k.checkTaskLimits(parent);
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
      if ((flags & CLONE_VM) == 0) {
        mm.limits(child.memoryLimits());
      }
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
      if ((flags & CLONE_CLEAR_SIGHAND) != 0) {
        child.resetHandlersForExec(); // the same rule: handlers to SIG_DFL, SIG_IGN stays
      }
      ct = copyTask(k, child, pid, t, flags, newSp, tls, childTid);
      ct.delivery().copyAltStack(t.delivery());
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
    try {
      launch(k, t, ct, flags, parent.mm, parentTid, childTid, child.pid, "started by " + parent.pid, "vk-" + child.pid);
    } catch (RuntimeException e) {
      // No host thread for it (EAGAIN), or the service failed (a VmspaceException, which the
      // caller gets as its errno): the child never ran, and goes as if never made. Left in the
      // tables, it would count against --pids forever and be waited for at the run's end.
      k.lock.lock();
      try {
        child.threads.remove(ct);
        k.tasks.remove(ct.tid, ct);
        k.removeProcess(child.pid);
        if (child.parent != null) {
          child.parent.children.remove(child);
        }
      } finally {
        k.lock.unlock();
      }
      ct.discard();
      child.fds.release();
      mm.release();
      throw e;
    }
    CpuLimit.update(child);
    if ((flags & CLONE_VFORK) != 0) {
      awaitVforkRelease(t, child);
    }
    return child.pid;
  }

  /**
   * clone(CLONE_THREAD): a new task in the caller's thread group, sharing its address space,
   * descriptors, working directory and dispositions, with the caller's registers (rax 0, the
   * stack {@code newSp}), signal mask and CPU affinity, no pending signals and no alternate
   * signal stack (Linux resets it for CLONE_VM), and, with CLONE_SETTLS, {@code tls} as its fs
   * base. It runs at once on a Java thread of its own, in the same vmspace as the others, each on
   * a vCPU of its own while it runs guest code.
   *
   * @return the new thread's id
   * @throws SyscallError ENOSYS for a thread without CLONE_VM, CLONE_FS or CLONE_FILES (a thread
   *     with its own descriptor table or working directory, which the thread group here cannot
   *     represent; glibc, musl and Go always share them), ERESTARTSYS if the group is exiting,
   *     EAGAIN at RLIMIT_NPROC or the kernel's task cap, or when the host makes no thread for it
   */
  private static int cloneThread(Task t, long flags, long newSp, long parentTid, long childTid, long tls) {
    long shared = CLONE_VM | CLONE_FS | CLONE_FILES;
    if ((flags & shared) != shared) {
      throw new SyscallError(LinuxErrno.ENOSYS, "threads need CLONE_VM|CLONE_FS|CLONE_FILES here");
    }
    Kernel k = t.kernel();
    ThreadGroup p = t.process;
    Task ct;
    k.lock.lock();
    try {
      if (p.exiting() || k.end.ending()) {
        throw new SyscallError(LinuxErrno.ERESTARTSYS); // a fatal signal is on its way, as Linux
      }
      k.checkTaskLimits(p);
      ct = copyTask(k, p, k.allocatePid(), t, flags, newSp, tls, childTid);
    } finally {
      k.lock.unlock();
    }
    try {
      launch(k, t, ct, flags, p.mm, parentTid, childTid, t.tid, "started thread " + ct.tid, "vk-" + p.pid + "-" + ct.tid);
    } catch (RuntimeException e) {
      // As for a process: never ran, so never made.
      k.lock.lock();
      try {
        p.threads.remove(ct);
        k.tasks.remove(ct.tid, ct);
      } finally {
        k.lock.unlock();
      }
      ct.discard();
      throw e;
    }
    return ct.tid;
  }

  /**
   * The new task {@code tid} of {@code g}, a copy of {@code t}: its registers (rax 0, the stack
   * {@code newSp} if given), signal mask, affinity, fs base (or {@code tls} with CLONE_SETTLS)
   * and gs base, and with CLONE_CHILD_CLEARTID the word to clear at its exit. Entered in the
   * tables; under the kernel lock.
   */
  private static Task copyTask(Kernel k, ThreadGroup g, int tid, Task t, long flags, long newSp, long tls,
      long childTid) {
    Task ct = new Task(k, g, tid);
    ct.frame.copyFrom(t.frame).rax(0);
    if (newSp != 0) {
      ct.frame.rsp(newSp);
    }
    ct.signals().mask(t.signals().mask());
    ct.affinity(t.affinity());
    ct.vext().fsBase((flags & CLONE_SETTLS) != 0 ? tls : t.vext().fsBase()).gsBase(t.vext().gsBase());
    if ((flags & CLONE_CHILD_CLEARTID) != 0) {
      ct.clearTid = childTid;
    }
    g.threads.add(ct);
    k.tasks.put(tid, ct);
    return ct;
  }

  /**
   * Starts {@code ct} (out of the kernel lock): its vector state from {@code t}, the tid words
   * CLONE_PARENT_SETTID (in the parent's memory) and CLONE_CHILD_SETTID (in the child's) ask
   * for, a trace line from {@code tracedAs}, and its Java thread named {@code name}.
   */
  private static void launch(Kernel k, Task t, Task ct, long flags, AddressSpace parentMm, long parentTid,
      long childTid, int tracedAs, String event, String name) {
    k.vms.copyVectorState(t.vext(), ct.vext());
    if ((flags & CLONE_PARENT_SETTID) != 0) {
      writeTid(parentMm, parentTid, ct.tid);
    }
    if ((flags & CLONE_CHILD_SETTID) != 0) {
      writeTid(ct.process.mm, childTid, ct.tid);
    }
    if (k.trace != null) {
      k.trace.event(tracedAs, event);
    }
    ct.start(name);
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
      if (t.blocker().await(-1, (short) 0, 0, false) == Blocker.Wait.SIGNAL) {
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
      waiting.blocker().wake(false);
    }
  }

}
