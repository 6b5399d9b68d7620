package org.vmspace.vkernel.syscall;

import java.nio.ByteBuffer;
import org.vmspace.vkernel.ipc.MsgQueues;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/** msgget, msgsnd, msgrcv, msgctl: see {@link MsgQueues}. */
final class MsgCalls {
  private MsgCalls() {}

  private static final int MSG_STAT = 11;
  private static final int MSG_INFO = 12;
  private static final int MSG_STAT_ANY = 13;
  /** sizeof(struct msqid64_ds) on x86-64. */
  private static final int MSQID_DS_SIZE = 120;

  static long msgget(Call c) {
    return c.kernel.ipc().msg().get(c.i(0), c.i(1), IpcCalls.cred(c));
  }

  /** msgsnd(id, msgp, msgsz, flags): msgp is {@code struct { long mtype; char mtext[msgsz]; }}. */
  static long msgsnd(Call c) {
    int id = c.i(0);
    long addr = c.a(1);
    long size = c.a(2);
    if (Long.compareUnsigned(size, MsgQueues.MSGMAX) > 0 || id < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    long type = c.mem().readLong(addr);
    if (type < 1) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    byte[] text = c.mem().readBytes(addr + 8, (int) size);
    c.kernel.ipc().msg().send(id, type, text, c.i(3), IpcCalls.cred(c), IpcCalls.sleeper(c));
    return 0;
  }

  /** msgrcv(id, msgp, msgsz, msgtyp, flags): the length of the text it stored. */
  static long msgrcv(Call c) {
    int id = c.i(0);
    long addr = c.a(1);
    long size = c.a(2);
    if (id < 0 || size < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    MsgQueues.Message m = c.kernel.ipc().msg().receive(id, size, c.a(3), c.i(4), IpcCalls.cred(c),
        IpcCalls.sleeper(c));
    // As on Linux, a message taken off the queue is lost if it cannot be stored (EFAULT).
    c.mem().writeLong(addr, m.type());
    c.mem().writeBytes(addr + 8, m.text());
    return m.text().length;
  }

  static long msgctl(Call c) {
    int id = c.i(0);
    int cmd = c.i(1);
    long buf = c.a(2);
    if (id < 0 || cmd < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    MsgQueues q = c.kernel.ipc().msg();
    switch (cmd) {
      case IpcCalls.IPC_INFO, MSG_INFO -> {
        MsgQueues.Info i = q.info(cmd == MSG_INFO);
        ByteBuffer b = IpcCalls.struct(32);
        b.putInt(0, i.msgpool()).putInt(4, i.msgmap()).putInt(8, i.msgmax()).putInt(12, i.msgmnb())
            .putInt(16, i.msgmni()).putInt(20, i.msgssz()).putInt(24, i.msgtql()).putShort(28, (short) i.msgseg());
        c.mem().writeBytes(buf, b.array());
        return i.highestIndex();
      }
      case IpcCalls.IPC_STAT, MSG_STAT, MSG_STAT_ANY -> {
        boolean byIndex = cmd != IpcCalls.IPC_STAT;
        MsgQueues.Stat s = q.stat(id, byIndex, cmd == MSG_STAT_ANY, IpcCalls.cred(c));
        ByteBuffer b = IpcCalls.struct(MSQID_DS_SIZE);
        IpcCalls.putPerm(b, s.perm());
        b.putLong(48, s.stime()).putLong(56, s.rtime()).putLong(64, s.ctime()).putLong(72, s.cbytes())
            .putLong(80, s.qnum()).putLong(88, s.qbytes()).putInt(96, s.lspid()).putInt(100, s.lrpid());
        c.mem().writeBytes(buf, b.array());
        return byIndex ? q.idAt(id) : 0;
      }
      case IpcCalls.IPC_SET -> {
        ByteBuffer b = IpcCalls.read(c, buf, MSQID_DS_SIZE);
        int[] f = IpcCalls.setFields(b);
        q.set(id, IpcCalls.cred(c), f[0], f[1], f[2], b.getLong(88));
        return 0;
      }
      case IpcCalls.IPC_RMID -> {
        q.remove(id, IpcCalls.cred(c));
        return 0;
      }
      default -> throw new SyscallError(LinuxErrno.EINVAL);
    }
  }
}
