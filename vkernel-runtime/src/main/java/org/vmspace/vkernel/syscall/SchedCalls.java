package org.vmspace.vkernel.syscall;

import org.vmspace.vkernel.proc.Task;
import org.vmspace.vkernel.proc.ThreadGroup;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The scheduler: sched_yield, CPU affinity (kept per thread, inherited by clone), getpriority
 * (always nice 0), getcpu (the host CPU of the thread's Java thread), and rseq (ENOSYS).
 */
final class SchedCalls {
  private SchedCalls() {}

  static long schedYield(Call c) {
    Thread.yield();
    return 0;
  }

  static long getpriority(Call c) {
    checkWho(c, c.i(0), c.i(1));
    return 20; // the kernel's encoding of nice 0
  }

  static long getcpu(Call c) {
    // The guest thread runs on the host CPU its Java thread runs on, shown among the CPUs the
    // guests see (--cpus); one NUMA node.
    if (c.a(0) != 0) {
      c.mem().writeInt(c.a(0), Math.max(0, org.vmspace.vkernel.host.Host.schedGetcpu()) % c.kernel.config().cpus());
    }
    if (c.a(1) != 0) {
      c.mem().writeInt(c.a(1), 0);
    }
    return 0;
  }

  static long rseq(Call c) {
    throw new SyscallError(LinuxErrno.ENOSYS, "rseq");
  }

  private static void checkWho(Call c, int which, int who) {
    if (which < 0 || which > 2) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (which == 0 && who != 0 && c.kernel.process(who, false) == null) {
      throw new SyscallError(LinuxErrno.ESRCH);
    }
  }

  /** The pid of the virtual init, which has no guest thread. */
  private static final int INIT_PID = 1;

  /**
   * The thread sched_{get,set}affinity name: 0 is the caller; ESRCH if there is none. The
   * virtual init (pid 1) is not a guest thread: its mask is every online CPU and may be read only.
   */
  private static Task affinityTarget(Call c, boolean set) {
    int tid = c.i(0);
    if (tid == INIT_PID) {
      if (set) {
        throw new SyscallError(LinuxErrno.EPERM);
      }
      return null;
    }
    if (tid == 0) {
      return c.thread;
    }
    Task t = tid < 0 ? null : c.kernel.task(tid);
    if (t == null) {
      throw new SyscallError(LinuxErrno.ESRCH);
    }
    return t;
  }

  /**
   * sched_setaffinity(2): bits past the mask's length are zero; a mask with no online CPU is
   * EINVAL. The mask is kept per thread (inherited by clone) and reported back.
   */
  static long setaffinity(Call c) {
    long len = c.a(1);
    long mask = 0;
    if (len != 0) {
      byte[] bytes = c.mem().readBytes(c.a(2), Long.compareUnsigned(len, 8) < 0 ? (int) len : 8);
      for (int i = 0; i < bytes.length; i++) {
        mask |= (bytes[i] & 0xffL) << (8 * i);
      }
    }
    // Linux's order: the mask is copied (EFAULT) before the thread is looked up.
    Task t = affinityTarget(c, true);
    mask &= c.kernel.cpuMask();
    if (mask == 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    t.affinity(mask);
    return 0;
  }

  /** sched_getaffinity(2): the raw call returns the size it wrote (one 64-bit word). */
  static long getaffinity(Call c) {
    long len = c.a(1);
    if (Long.compareUnsigned(len, 8) < 0 || (len & 7) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    Task t = affinityTarget(c, false);
    c.mem().writeLong(c.a(2), t == null ? c.kernel.cpuMask() : t.affinity());
    return 8;
  }
}
