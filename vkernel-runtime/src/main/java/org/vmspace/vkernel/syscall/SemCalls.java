package org.vmspace.vkernel.syscall;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.vmspace.vkernel.ipc.SemArrays;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/** semget, semop, semtimedop, semctl: see {@link SemArrays}. */
final class SemCalls {
  private SemCalls() {}

  private static final int GETPID = 11;
  private static final int GETVAL = 12;
  private static final int GETALL = 13;
  private static final int GETNCNT = 14;
  private static final int GETZCNT = 15;
  private static final int SETVAL = 16;
  private static final int SETALL = 17;
  private static final int SEM_STAT = 18;
  private static final int SEM_INFO = 19;
  private static final int SEM_STAT_ANY = 20;
  /** sizeof(struct semid64_ds) on x86-64. */
  private static final int SEMID_DS_SIZE = 104;

  static long semget(Call c) {
    return c.kernel.ipc().sem().get(c.i(0), c.i(1), c.i(2), IpcCalls.cred(c));
  }

  static long semop(Call c) {
    return semtimedop(c, 0);
  }

  static long semtimedop(Call c) {
    return semtimedop(c, c.a(3));
  }

  /** Linux's order: the count, the operations (EFAULT), the timeout (EFAULT, EINVAL), the set. */
  private static long semtimedop(Call c, long timeout) {
    int id = c.i(0);
    long nsops = c.a(2) & 0xffffffffL;
    if (nsops < 1 || id < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (nsops > SemArrays.SEMOPM) {
      throw new SyscallError(LinuxErrno.E2BIG);
    }
    ByteBuffer b = IpcCalls.read(c, c.a(1), (int) nsops * 6);
    List<SemArrays.Op> ops = new ArrayList<>();
    for (int i = 0; i < nsops; i++) {
      ops.add(new SemArrays.Op(b.getShort(i * 6) & 0xffff, b.getShort(i * 6 + 2), b.getShort(i * 6 + 4) & 0xffff));
    }
    long deadline = timeout == 0 ? 0 : TimeCalls.deadlineFromTimespec(c, timeout);
    c.kernel.ipc().sem().semop(id, ops, IpcCalls.cred(c), deadline, IpcCalls.sleeper(c));
    return 0;
  }

  /** semctl(id, semnum, cmd, arg): {@code arg} is the union semun, passed by value. */
  static long semctl(Call c) {
    int id = c.i(0);
    int num = c.i(1);
    int cmd = c.i(2);
    long arg = c.a(3);
    if (id < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    SemArrays s = c.kernel.ipc().sem();
    var who = IpcCalls.cred(c);
    switch (cmd) {
      case IpcCalls.IPC_INFO, SEM_INFO -> {
        SemArrays.Info i = s.info(cmd == SEM_INFO);
        ByteBuffer b = IpcCalls.struct(40);
        b.putInt(0, i.semmap()).putInt(4, i.semmni()).putInt(8, i.semmns()).putInt(12, i.semmnu())
            .putInt(16, i.semmsl()).putInt(20, i.semopm()).putInt(24, i.semume()).putInt(28, i.semusz())
            .putInt(32, i.semvmx()).putInt(36, i.semaem());
        c.mem().writeBytes(arg, b.array());
        return i.highestIndex();
      }
      case IpcCalls.IPC_STAT, SEM_STAT, SEM_STAT_ANY -> {
        boolean byIndex = cmd != IpcCalls.IPC_STAT;
        SemArrays.Stat st = s.stat(id, byIndex, cmd == SEM_STAT_ANY, who);
        ByteBuffer b = IpcCalls.struct(SEMID_DS_SIZE);
        IpcCalls.putPerm(b, st.perm());
        b.putLong(48, st.otime()).putLong(64, st.ctime()).putLong(80, st.nsems());
        c.mem().writeBytes(arg, b.array());
        return byIndex ? s.idAt(id) : 0;
      }
      case IpcCalls.IPC_SET -> {
        int[] f = IpcCalls.setFields(IpcCalls.read(c, arg, SEMID_DS_SIZE));
        s.set(id, who, f[0], f[1], f[2]);
        return 0;
      }
      case IpcCalls.IPC_RMID -> {
        s.remove(id, who);
        return 0;
      }
      case GETVAL -> {
        return s.value(id, num, who);
      }
      case GETPID -> {
        return s.pid(id, num, who);
      }
      case GETNCNT, GETZCNT -> {
        return s.waiting(id, num, cmd == GETZCNT, who);
      }
      case GETALL -> {
        int[] values = s.values(id, who);
        ByteBuffer b = IpcCalls.struct(values.length * 2);
        for (int i = 0; i < values.length; i++) {
          b.putShort(i * 2, (short) values[i]);
        }
        c.mem().writeBytes(arg, b.array());
        return 0;
      }
      case SETVAL -> {
        s.setValue(id, num, (int) arg, who);
        return 0;
      }
      case SETALL -> {
        int n = s.count(id);
        ByteBuffer b = IpcCalls.read(c, arg, n * 2);
        int[] values = new int[n];
        for (int i = 0; i < n; i++) {
          values[i] = b.getShort(i * 2) & 0xffff;
        }
        s.setValues(id, values, who);
        return 0;
      }
      default -> throw new SyscallError(LinuxErrno.EINVAL);
    }
  }
}
