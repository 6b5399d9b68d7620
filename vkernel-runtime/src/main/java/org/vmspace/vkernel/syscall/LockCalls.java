package org.vmspace.vkernel.syscall;

import static org.vmspace.vkernel.sys.LinuxLocks.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.FileLocks;
import org.vmspace.vkernel.fs.HostInode;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.proc.Blocker;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * Advisory locks: fcntl's POSIX record locks (F_GETLK, F_SETLK, F_SETLKW, owned by the
 * process, freed when it closes any descriptor of the file or exits), open-file-description
 * locks (F_OFD_*, owned by the description, freed with it) and flock(2), enforced between the
 * guest's processes through {@link FileLocks}. A blocked F_SETLKW or flock waits until a lock
 * is freed, fails with EDEADLK where waiting would close a cycle of POSIX lock owners, and is
 * ended by a signal with ERESTARTSYS (restarted after an SA_RESTART handler, EINTR otherwise).
 *
 * <p>Locks on host files are also taken on the host (see {@link FileLocks#mirroredOnHost}), so
 * host processes exclude the guest and the guest them; a wait for a lock a host process holds
 * looks again every {@value #HOST_POLL_MS} ms, since no host unlock wakes it.
 */
final class LockCalls {
  /** How often a wait for a lock held on the host tries again. */
  static final int HOST_POLL_MS = 20;

  private LockCalls() {}

  /** fcntl(2) with one of the lock commands; {@code arg} points at a {@code struct flock}. */
  static long fcntl(Call c, FileDescription d, int cmd, long arg) {
    boolean ofd = cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
    ByteBuffer b = ByteBuffer.wrap(c.mem().readBytes(arg, FLOCK_SIZE)).order(ByteOrder.LITTLE_ENDIAN);
    short type = b.getShort(0);
    if (type != F_RDLCK && type != F_WRLCK && type != F_UNLCK) {
      throw new SyscallError(LinuxErrno.EINVAL, "l_type");
    }
    if (ofd && b.getInt(24) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL, "l_pid must be 0 for OFD locks");
    }
    long[] range = range(d, b.getShort(2), b.getLong(8), b.getLong(16));
    FileLocks table = c.kernel.vfs().recordLocks();
    HostInode file = inode(d);
    Object owner = ofd ? d : c.process;
    if (cmd == F_GETLK || cmd == F_OFD_GETLK) {
      if (type == F_UNLCK) {
        throw new SyscallError(LinuxErrno.EINVAL, "F_GETLK of F_UNLCK");
      }
      FileLocks.Lock l = table.conflict(file, owner, d, lockType(type), range[0], range[1]);
      report(c, arg, b, l);
      return 0;
    }
    if (type == F_RDLCK && !d.readable() || type == F_WRLCK && !d.writable()) {
      throw new SyscallError(LinuxErrno.EBADF, "lock type needs the descriptor open for it");
    }
    if (type == F_UNLCK) {
      table.unlock(file, owner, range[0], range[1]);
      return 0;
    }
    if (ofd) {
      d.whenClosed(table, () -> table.releaseAll(d));
    }
    int pid = ofd ? -1 : c.process.pid();
    boolean wait = cmd == F_SETLKW || cmd == F_OFD_SETLKW;
    lock(c, table, file, d, owner, pid, lockType(type), range[0], range[1], wait, !ofd);
    return 0;
  }

  /** The flock(2) handler. */
  static long flock(Call c) {
    return flock(c, c.fd(0), c.i(1));
  }

  /** flock(2): whole-file locks owned by the description. */
  static long flock(Call c, FileDescription d, int op) {
    int kind = op & ~LOCK_NB;
    if (kind != LOCK_SH && kind != LOCK_EX && kind != LOCK_UN) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    FileLocks table = c.kernel.vfs().flocks();
    HostInode file = inode(d);
    if (kind == LOCK_UN) {
      table.unlock(file, d, 0, FileLocks.TO_EOF);
      return 0;
    }
    FileLocks.Type type = kind == LOCK_EX ? FileLocks.Type.WRITE : FileLocks.Type.READ;
    for (FileLocks.Lock held : table.locksOn(file)) {
      if (held.owner() == d) {
        if (held.type() == type) {
          return 0;
        }
        // Linux converts by dropping the old lock first: a failed LOCK_NB conversion loses it.
        table.unlock(file, d, 0, FileLocks.TO_EOF);
      }
    }
    d.whenClosed(table, () -> table.releaseAll(d));
    lock(c, table, file, d, d, c.process.pid(), type, 0, FileLocks.TO_EOF, (op & LOCK_NB) == 0, false);
    return 0;
  }

  /**
   * Before the calling process closes {@code d}: its POSIX locks on the file go, whichever of
   * its descriptors took them (POSIX's rule).
   */
  static void closing(Call c, FileDescription d) {
    c.kernel.vfs().recordLocks().closing(c.process, d);
  }

  private static void lock(Call c, FileLocks table, HostInode file, FileDescription via, Object owner, int pid,
      FileLocks.Type type, long start, long end, boolean wait, boolean detectDeadlock) {
    Runnable wake = () -> c.thread.blocker().wake(false);
    table.wakeOnChange(file, wake);
    try {
      while (true) {
        FileLocks.Lock conflict = table.tryLock(file, owner, pid, type, start, end, via);
        if (conflict == null) {
          return;
        }
        if (!wait) {
          throw new SyscallError(LinuxErrno.EAGAIN);
        }
        if (detectDeadlock && !table.waitFor(owner, conflict.owner())) {
          throw new SyscallError(LinuxErrno.EDEADLK);
        }
        long deadline = conflict.owner() == FileLocks.HOST ? System.nanoTime() + HOST_POLL_MS * 1_000_000L : 0;
        if (c.thread.blocker().await(-1, (short) 0, deadline, true) == Blocker.Wait.SIGNAL) {
          throw new SyscallError(LinuxErrno.ERESTARTSYS);
        }
      }
    } finally {
      table.doneWaiting(owner);
      table.stopWaking(file, wake);
    }
  }

  /** The inclusive byte range of a {@code struct flock}, as Linux's flock_to_posix_lock computes it. */
  private static long[] range(FileDescription d, short whence, long start, long len) {
    long base = switch (whence) {
      case 0 -> 0;
      case 1 -> d.lseek(0, 1);
      case 2 -> size(d);
      default -> throw new SyscallError(LinuxErrno.EINVAL, "l_whence");
    };
    long s;
    try {
      s = Math.addExact(base, start);
    } catch (ArithmeticException e) {
      throw new SyscallError(LinuxErrno.EOVERFLOW);
    }
    if (s < 0) {
      throw new SyscallError(LinuxErrno.EINVAL, "lock before the start of the file");
    }
    if (len > 0) {
      if (len - 1 > Long.MAX_VALUE - s) {
        throw new SyscallError(LinuxErrno.EOVERFLOW);
      }
      return new long[] {s, s + len - 1};
    }
    if (len < 0) {
      long from = s + len;
      if (from < 0) {
        throw new SyscallError(LinuxErrno.EINVAL, "lock before the start of the file");
      }
      return new long[] {from, s - 1};
    }
    return new long[] {s, FileLocks.TO_EOF};
  }

  private static void report(Call c, long arg, ByteBuffer b, FileLocks.Lock l) {
    if (l == null) {
      b.putShort(0, F_UNLCK);
    } else {
      b.putShort(0, l.type() == FileLocks.Type.WRITE ? F_WRLCK : F_RDLCK);
      b.putShort(2, (short) 0);
      b.putLong(8, l.start());
      b.putLong(16, l.end() == FileLocks.TO_EOF ? 0 : l.end() - l.start() + 1);
      b.putInt(24, l.pid());
    }
    c.mem().writeBytes(arg, b.array());
  }

  private static FileLocks.Type lockType(short type) {
    return type == F_WRLCK ? FileLocks.Type.WRITE : FileLocks.Type.READ;
  }

  private static HostInode inode(FileDescription d) {
    return HostInode.of(d);
  }

  private static long size(FileDescription d) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      d.fstat(st);
      return st.get(ValueLayout.JAVA_LONG, 48);
    }
  }
}
