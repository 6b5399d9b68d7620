package org.vmspace.vkernel.syscall;

import org.vmspace.vkernel.proc.Task;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * futex (wait, wake, requeue, wake-op, with bitsets; see the kernel's futex table) and the
 * robust futex list (set_robust_list, get_robust_list; walked when the thread exits).
 */
final class FutexCalls {
  private FutexCalls() {}

  /** sizeof(struct robust_list_head): the only length Linux accepts. */
  private static final int ROBUST_HEAD_SIZE = 24;

  static long setRobustList(Call c) {
    if (c.a(1) != ROBUST_HEAD_SIZE) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    c.thread.robustList(c.a(0));
    return 0;
  }

  /** get_robust_list(pid, head_ptr, len_ptr): the thread's list head; pid 0 is the caller. */
  static long getRobustList(Call c) {
    int tid = c.i(0);
    Task t = tid == 0 ? c.thread : tid < 0 ? null : c.kernel.task(tid);
    if (t == null) {
      throw new SyscallError(LinuxErrno.ESRCH);
    }
    c.mem().writeLong(c.a(1), t.robustList());
    c.mem().writeLong(c.a(2), ROBUST_HEAD_SIZE);
    return 0;
  }

  static long futex(Call c) {
    long uaddr = c.a(0);
    int op = c.i(1);
    int cmd = op & 0x7f;
    int val = c.i(2);
    long timeoutAddr = c.a(3);
    boolean realtime = (op & 256) != 0;
    boolean shared = (op & 128) == 0; // FUTEX_PRIVATE_FLAG
    switch (cmd) {
      case 0, 9 -> { // FUTEX_WAIT, FUTEX_WAIT_BITSET
        long deadline = 0;
        if (timeoutAddr != 0) {
          deadline = cmd == 0 ? TimeCalls.deadlineFromTimespec(c, timeoutAddr)
              : TimeCalls.absoluteDeadline(c, timeoutAddr, realtime ? 0 : 1);
        }
        int bitset = cmd == 0 ? -1 : c.i(5);
        c.kernel.futexes().await(c.thread, c.process.mm(), uaddr, shared, val, deadline, bitset);
        return 0;
      }
      case 1, 10 -> { // FUTEX_WAKE, FUTEX_WAKE_BITSET
        int bitset = cmd == 1 ? -1 : c.i(5);
        if (bitset == 0) {
          throw new SyscallError(LinuxErrno.EINVAL);
        }
        return c.kernel.futexes().wake(c.process.mm(), uaddr, shared, val, bitset);
      }
      case 3, 4 -> { // FUTEX_REQUEUE, FUTEX_CMP_REQUEUE
        int requeue = (int) timeoutAddr;
        return c.kernel.futexes().requeue(c.process.mm(), uaddr, shared, val, c.a(4), requeue, cmd == 4 ? c.i(5) : null);
      }
      case 6, 8, 13 -> { // FUTEX_LOCK_PI, FUTEX_TRYLOCK_PI, FUTEX_LOCK_PI2
        long deadline = 0;
        if (timeoutAddr != 0 && cmd != 8) {
          // An absolute time: CLOCK_REALTIME for LOCK_PI, the flag's clock for LOCK_PI2.
          deadline = TimeCalls.absoluteDeadline(c, timeoutAddr, cmd == 6 || realtime ? 0 : 1);
        }
        c.kernel.futexes().lockPi(c.thread, c.process.mm(), uaddr, deadline, cmd == 8);
        return 0;
      }
      case 7 -> { // FUTEX_UNLOCK_PI
        c.kernel.futexes().unlockPi(c.thread, c.process.mm(), uaddr);
        return 0;
      }
      case 5 -> { // FUTEX_WAKE_OP
        return c.kernel.futexes().wakeOp(c.process.mm(), uaddr, c.a(4), shared, val, (int) timeoutAddr, c.i(5));
      }
      default -> throw new SyscallError(LinuxErrno.ENOSYS, "futex op " + cmd);
    }
  }
}
