package org.vmspace.vkernel.syscall;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.vmspace.vkernel.proc.CpuLimit;
import org.vmspace.vkernel.proc.Limits;
import org.vmspace.vkernel.proc.ThreadGroup;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * Resources: limits (getrlimit, setrlimit, prlimit64), usage (getrusage, times), and what the
 * machine reports of itself (uname, sysinfo).
 */
final class ResourceCalls {
  private ResourceCalls() {}

  static long getrlimit(Call c) {
    return prlimit(c, 0, c.i(0), 0, c.a(1));
  }

  static long setrlimit(Call c) {
    return prlimit(c, 0, c.i(0), c.a(1), 0);
  }

  static long prlimit64(Call c) {
    return prlimit(c, c.i(0), c.i(1), c.a(2), c.a(3));
  }

  private static long prlimit(Call c, int pid, int resource, long newAddr, long oldAddr) {
    ThreadGroup p = pid == 0 ? c.process : c.kernel.process(pid, false);
    if (p == null) {
      throw new SyscallError(LinuxErrno.ESRCH);
    }
    if (resource < 0 || resource >= Limits.COUNT) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    long[] old = p.rlimit(resource);
    long soft = 0;
    long hard = 0;
    if (newAddr != 0) {
      soft = c.mem().readLong(newAddr);
      hard = c.mem().readLong(newAddr + 8);
      // The caller's privilege (CAP_SYS_RESOURCE), not the target's, decides; a guest running
      // as root has every capability.
      Limits.checkChange(resource, old, soft, hard, c.process.uid() == 0);
    }
    if (oldAddr != 0) {
      c.mem().writeLong(oldAddr, old[0]);
      c.mem().writeLong(oldAddr + 8, old[1]);
    }
    if (newAddr != 0) {
      p.rlimit(resource, soft, hard);
      if (resource == Limits.RLIMIT_CPU) {
        CpuLimit.update(p);
      }
    }
    return 0;
  }

  /** User and system CPU time, in nanoseconds, from {@code {total, user}} as tasks count them. */
  private static long[] userSystem(long[] times) {
    return new long[] {times[1], Math.max(0, times[0] - times[1])};
  }

  static long getrusage(Call c) {
    int who = c.i(0);
    if (who != 0 && who != -1 && who != 1) { // SELF, CHILDREN, THREAD
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    ByteBuffer b = ByteBuffer.allocate(144).order(ByteOrder.LITTLE_ENDIAN);
    if (who != -1) {
      long[] t = userSystem(who == 1 ? c.thread.cpuTimes() : c.process.cpuTimes());
      b.putLong(0, t[0] / 1_000_000_000L).putLong(8, (t[0] / 1000) % 1_000_000);
      b.putLong(16, t[1] / 1_000_000_000L).putLong(24, (t[1] / 1000) % 1_000_000);
    }
    c.mem().writeBytes(c.a(1), b.array());
    return 0;
  }

  static long times(Call c) {
    long[] t = userSystem(c.process.cpuTimes());
    if (c.a(0) != 0) {
      ByteBuffer b = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
      b.putLong(0, t[0] / 10_000_000L).putLong(8, t[1] / 10_000_000L);
      c.mem().writeBytes(c.a(0), b.array());
    }
    return System.nanoTime() / 10_000_000L;
  }

  static long uname(Call c) {
    byte[] u = new byte[390];
    String[] fields = {"Linux", c.kernel.config().hostname(), "6.1.0-vkernel", "#1 SMP vkernel", "x86_64", "(none)"};
    for (int i = 0; i < fields.length; i++) {
      byte[] f = fields[i].getBytes(StandardCharsets.UTF_8);
      System.arraycopy(f, 0, u, 65 * i, Math.min(64, f.length));
    }
    c.mem().writeBytes(c.a(0), u);
    return 0;
  }

  static long sysinfo(Call c) {
    ByteBuffer b = ByteBuffer.allocate(112).order(ByteOrder.LITTLE_ENDIAN);
    // The guests' memory is --memory; what they have committed of it is not free.
    long total = c.kernel.config().memory();
    b.putLong(0, (System.nanoTime() - c.kernel.bootNanos()) / 1_000_000_000L);
    b.putLong(32, total);
    b.putLong(40, Math.max(0, total - c.kernel.memory().committed()));
    b.putShort(80, (short) c.kernel.pids().size());
    b.putInt(104, 1); // mem_unit
    c.mem().writeBytes(c.a(0), b.array());
    return 0;
  }
}
