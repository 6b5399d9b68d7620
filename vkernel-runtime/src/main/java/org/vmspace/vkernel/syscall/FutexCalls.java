package org.vmspace.vkernel.syscall;

import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * futex (wait, wake and requeue, with bitsets; see the kernel's futex table) and
 * set_robust_list, whose list is never walked.
 */
final class FutexCalls {
  private FutexCalls() {}

  static long setRobustList(Call c) {
    if (c.a(1) != 24) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    // The robust list matters when a thread dies holding a lock other threads wait for;
    // there is one thread per process here, so the list is never walked.
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
      default -> throw new SyscallError(LinuxErrno.ENOSYS, "futex op " + cmd);
    }
  }
}
