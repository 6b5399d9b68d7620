package org.vmspace.vkernel.syscall;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.vmspace.vkernel.ipc.Cred;
import org.vmspace.vkernel.ipc.IpcObject;
import org.vmspace.vkernel.ipc.Sleeper;
import org.vmspace.vkernel.proc.Task;

/**
 * What the System V IPC calls ({@link MsgCalls}, {@link SemCalls}, {@link ShmCalls}) share: the
 * caller's credentials, a {@link Sleeper} over the calling guest thread (so a blocked call
 * holds up no other thread and a signal ends it), and the {@code struct ipc64_perm} layout.
 */
final class IpcCalls {
  private IpcCalls() {}

  static final int IPC_RMID = 0;
  static final int IPC_SET = 1;
  static final int IPC_STAT = 2;
  static final int IPC_INFO = 3;
  // x86-64 has only the 64-bit structures: Linux takes IPC_64 (0x100) in a command as an
  // unknown command (EINVAL), and neither C library sets it there.

  static Cred cred(Call c) {
    return new Cred(c.process.pid(), c.process.uid(), c.process.gid());
  }

  /** The calling thread as a {@link Sleeper}: interruptible by any signal it may take. */
  static Sleeper sleeper(Call c) {
    Task t = c.thread;
    return new Sleeper() {
      @Override
      public Result sleep(long deadline) {
        return switch (t.blocker().await(-1, (short) 0, deadline, true)) {
          case SIGNAL -> Result.SIGNAL;
          case TIMEOUT -> Result.TIMEOUT;
          default -> Result.WOKEN;
        };
      }

      @Override
      public void wake() {
        t.blocker().wake(false);
      }
    };
  }

  /** A little-endian buffer of {@code size} zero bytes, for a structure a call writes out. */
  static ByteBuffer struct(int size) {
    return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
  }

  /** Reads a structure of {@code size} bytes at {@code addr} (EFAULT if it is not there). */
  static ByteBuffer read(Call c, long addr, int size) {
    return ByteBuffer.wrap(c.mem().readBytes(addr, size)).order(ByteOrder.LITTLE_ENDIAN);
  }

  /** {@code struct ipc64_perm} at the start of {@code b}. */
  static void putPerm(ByteBuffer b, IpcObject.Perm p) {
    b.putInt(0, p.key()).putInt(4, p.uid()).putInt(8, p.gid()).putInt(12, p.cuid()).putInt(16, p.cgid())
        .putInt(20, p.mode()).putShort(24, (short) p.seq());
  }

  /** IPC_SET's input: uid, gid and the mode's 16 bits (the C libraries' {@code mode} field). */
  static int[] setFields(ByteBuffer b) {
    return new int[] {b.getInt(4), b.getInt(8), b.getShort(20) & 0xffff};
  }
}
