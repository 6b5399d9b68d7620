package org.vmspace.vkernel.syscall;

import org.vmspace.vkernel.proc.ThreadGroup;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.PathBytes;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * arch_prctl (the thread's FS and GS bases, below the user limit) and prctl (parent-death
 * signal, dumpable, child subreaper, name); other prctl options are EINVAL.
 */
final class PrctlCalls {
  private static final long ARCH_SET_GS = 0x1001;
  private static final long ARCH_SET_FS = 0x1002;
  private static final long ARCH_GET_FS = 0x1003;
  private static final long ARCH_GET_GS = 0x1004;
  private static final long USER_LIMIT = 0x0000_8000_0000_0000L;

  private PrctlCalls() {}

  static long archPrctl(Call c) {
    long code = c.a(0);
    long addr = c.a(1);
    if (code == ARCH_SET_FS || code == ARCH_SET_GS) {
      if (Long.compareUnsigned(addr, USER_LIMIT) >= 0) {
        throw new SyscallError(LinuxErrno.EPERM);
      }
      if (code == ARCH_SET_FS) {
        c.thread.vext().fsBase(addr);
      } else {
        c.thread.vext().gsBase(addr);
      }
      return 0;
    }
    if (code == ARCH_GET_FS || code == ARCH_GET_GS) {
      c.mem().writeLong(addr, code == ARCH_GET_FS ? c.thread.vext().fsBase() : c.thread.vext().gsBase());
      return 0;
    }
    throw new SyscallError(LinuxErrno.EINVAL);
  }

  static long prctl(Call c) {
    int option = c.i(0);
    ThreadGroup p = c.process;
    switch (option) {
      case 1 -> { // PR_SET_PDEATHSIG
        int sig = c.i(1);
        if (sig < 0 || sig > Signals.NSIG) {
          throw new SyscallError(LinuxErrno.EINVAL);
        }
        p.pdeathSig = sig;
        return 0;
      }
      case 2 -> { // PR_GET_PDEATHSIG
        c.mem().writeInt(c.a(1), p.pdeathSig);
        return 0;
      }
      case 3 -> { // PR_GET_DUMPABLE
        return p.dumpable ? 1 : 0;
      }
      case 4 -> { // PR_SET_DUMPABLE
        if (c.a(1) != 0 && c.a(1) != 1) {
          throw new SyscallError(LinuxErrno.EINVAL);
        }
        p.dumpable = c.a(1) == 1;
        return 0;
      }
      case 36 -> { // PR_SET_CHILD_SUBREAPER
        p.childSubreaper = c.a(1) != 0;
        return 0;
      }
      case 37 -> { // PR_GET_CHILD_SUBREAPER
        c.mem().writeInt(c.a(1), p.childSubreaper ? 1 : 0);
        return 0;
      }
      case 15 -> { // PR_SET_NAME
        byte[] name = c.mem().readBytes(c.a(1), 16);
        int len = 0;
        while (len < 15 && name[len] != 0) {
          len++;
        }
        p.comm(PathBytes.of(name, 0, len));
        return 0;
      }
      case 16 -> { // PR_GET_NAME
        byte[] out = new byte[16];
        byte[] comm = PathBytes.bytes(p.comm());
        System.arraycopy(comm, 0, out, 0, Math.min(15, comm.length));
        c.mem().writeBytes(c.a(1), out);
        return 0;
      }
      default -> throw new SyscallError(LinuxErrno.EINVAL, "prctl option " + option);
    }
  }
}
