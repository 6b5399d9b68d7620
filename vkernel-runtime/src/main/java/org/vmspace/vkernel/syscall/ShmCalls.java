package org.vmspace.vkernel.syscall;

import java.nio.ByteBuffer;
import org.vmspace.api.Backing;
import org.vmspace.api.Prot;
import org.vmspace.vkernel.ipc.Cred;
import org.vmspace.vkernel.ipc.ShmSegments;
import org.vmspace.vkernel.mem.AddressSpace;
import org.vmspace.vkernel.mem.FileId;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * shmget, shmat, shmdt, shmctl: see {@link ShmSegments}. An attach is a MAP_SHARED mapping of
 * the segment's memory object, named {@code /SYSV<key> (deleted)} in /proc/PID/maps as on
 * Linux; fork keeps it (the child shares the bytes), munmap, execve and exit drop it.
 */
final class ShmCalls {
  private ShmCalls() {}

  private static final long SHMLBA = 4096;
  private static final int SHM_LOCK = 11;
  private static final int SHM_UNLOCK = 12;
  private static final int SHM_STAT = 13;
  private static final int SHM_INFO = 14;
  private static final int SHM_STAT_ANY = 15;
  /** sizeof(struct shmid64_ds) on x86-64. */
  private static final int SHMID_DS_SIZE = 112;

  static long shmget(Call c) {
    return c.kernel.ipc().shm().get(c.i(0), c.a(1), c.i(2), IpcCalls.cred(c));
  }

  /** shmat(id, addr, flags): the address of the attach. Linux's do_shmat order of checks. */
  static long shmat(Call c) {
    int id = c.i(0);
    long addr = c.a(1);
    int flags = c.i(2);
    if (id < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (addr != 0) {
      if ((addr & (SHMLBA - 1)) != 0) {
        if ((flags & ShmSegments.SHM_RND) == 0) {
          throw new SyscallError(LinuxErrno.EINVAL);
        }
        addr &= ~(SHMLBA - 1);
      }
    } else if ((flags & ShmSegments.SHM_REMAP) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    int prot = Prot.PROT_READ | ((flags & ShmSegments.SHM_RDONLY) == 0 ? Prot.PROT_WRITE : 0)
        | ((flags & ShmSegments.SHM_EXEC) != 0 ? Prot.PROT_EXEC : 0);
    Cred who = IpcCalls.cred(c);
    ShmSegments shm = c.kernel.ipc().shm();
    ShmSegments.Attach a = shm.attach(id, flags, who);
    boolean ok = false;
    try {
      AddressSpace mm = c.process.mm();
      int mapFlags = AddressSpace.MAP_SHARED;
      if (addr != 0) {
        long end = addr + a.size();
        if ((flags & ShmSegments.SHM_REMAP) == 0) {
          if (Long.compareUnsigned(end, addr) < 0) {
            throw new SyscallError(LinuxErrno.EINVAL);
          }
          for (AddressSpace.Region r : mm.regions()) {
            if (Long.compareUnsigned(r.start(), end) < 0 && Long.compareUnsigned(addr, r.end()) < 0) {
              throw new SyscallError(LinuxErrno.EINVAL);
            }
          }
        }
        mapFlags |= AddressSpace.MAP_FIXED;
      }
      String name = String.format("/SYSV%08x (deleted)", a.key());
      long at = mm.mmap(addr, a.size(), prot, mapFlags, a.memory(), 0, name, FileId.NONE);
      ok = true;
      return at;
    } finally {
      shm.attached(a.segment(), who, ok);
    }
  }

  /**
   * shmdt(addr): unmaps the attach starting at {@code addr} (a mapping of a segment at its
   * offset 0), and the other pieces of it within the segment's size, as Linux does.
   */
  static long shmdt(Call c) {
    long addr = c.a(0);
    if ((addr & 4095) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    ShmSegments shm = c.kernel.ipc().shm();
    AddressSpace mm = c.process.mm();
    AddressSpace.Region first = mm.regionAt(addr);
    long size = first == null || first.start() != addr || first.offset() != 0 || first.backing() == null
        ? -1 : shm.sizeOf(first.backing());
    if (size < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    Backing memory = first.backing();
    long end = addr + ((size + 4095) & ~4095L);
    for (AddressSpace.Region r : mm.regions()) {
      if (r.backing() == memory && Long.compareUnsigned(r.start(), addr) >= 0
          && Long.compareUnsigned(r.end(), end) <= 0 && r.start() - addr == r.offset()) {
        mm.munmap(r.start(), r.end() - r.start());
      }
    }
    shm.detached(memory, IpcCalls.cred(c));
    return 0;
  }

  static long shmctl(Call c) {
    int id = c.i(0);
    int cmd = c.i(1);
    long buf = c.a(2);
    if (id < 0 || cmd < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    ShmSegments shm = c.kernel.ipc().shm();
    Cred who = IpcCalls.cred(c);
    switch (cmd) {
      case IpcCalls.IPC_INFO -> {
        long[] l = shm.limits();
        ByteBuffer b = IpcCalls.struct(72);
        for (int i = 0; i < 5; i++) {
          b.putLong(i * 8, l[i]);
        }
        c.mem().writeBytes(buf, b.array());
        return l[5];
      }
      case SHM_INFO -> {
        long[] u = shm.usage();
        ByteBuffer b = IpcCalls.struct(48);
        // used_ids, shm_tot, shm_rss (all resident here), shm_swp, swap_attempts, swap_successes
        b.putInt(0, (int) u[0]).putLong(8, u[1]).putLong(16, u[1]);
        c.mem().writeBytes(buf, b.array());
        return u[2];
      }
      case IpcCalls.IPC_STAT, SHM_STAT, SHM_STAT_ANY -> {
        boolean byIndex = cmd != IpcCalls.IPC_STAT;
        ShmSegments.Stat s = shm.stat(id, byIndex, cmd == SHM_STAT_ANY, who);
        ByteBuffer b = IpcCalls.struct(SHMID_DS_SIZE);
        IpcCalls.putPerm(b, s.perm());
        b.putLong(48, s.segsz()).putLong(56, s.atime()).putLong(64, s.dtime()).putLong(72, s.ctime())
            .putInt(80, s.cpid()).putInt(84, s.lpid()).putLong(88, s.nattch());
        c.mem().writeBytes(buf, b.array());
        return byIndex ? shm.idAt(id) : 0;
      }
      case IpcCalls.IPC_SET -> {
        int[] f = IpcCalls.setFields(IpcCalls.read(c, buf, SHMID_DS_SIZE));
        shm.set(id, who, f[0], f[1], f[2]);
        return 0;
      }
      case IpcCalls.IPC_RMID -> {
        shm.remove(id, who);
        return 0;
      }
      case SHM_LOCK, SHM_UNLOCK -> {
        shm.lock(id, who, cmd == SHM_LOCK);
        return 0;
      }
      default -> throw new SyscallError(LinuxErrno.EINVAL);
    }
  }
}
