package org.vmspace.vkernel.ipc;

import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * What every System V IPC object has (Linux's {@code struct kern_ipc_perm}): its key, id,
 * owner and creator, mode bits and whether it was removed. Guarded by the lock of the registry
 * that holds it.
 */
public abstract class IpcObject {
  /** The permission bits a caller may set (S_IRWXUGO). */
  public static final int MODE_BITS = 0777;

  int key;
  int id;
  int seq;
  int uid;
  int gid;
  final int cuid;
  final int cgid;
  /** Permission bits, plus the type's own flags above them (SHM_DEST, SHM_LOCKED). */
  int mode;
  /** Seconds since the epoch of the last IPC_SET (or the creation). */
  long ctime;
  boolean removed;

  IpcObject(int key, Cred creator, int mode) {
    this.key = key;
    this.uid = creator.uid();
    this.cuid = creator.uid();
    this.gid = creator.gid();
    this.cgid = creator.gid();
    this.mode = mode & MODE_BITS;
    this.ctime = IpcNamespace.now();
  }

  public int id() {
    return id;
  }

  /**
   * Linux's ipcperms: whether {@code who} has every access in {@code flag}'s low nine bits
   * (0444 read, 0222 write), by the owner, group or other bits; root always has.
   */
  boolean permits(Cred who, int flag) {
    int requested = (flag >> 6 | flag >> 3 | flag) & 7;
    int granted = mode & MODE_BITS;
    if (who.uid() == cuid || who.uid() == uid) {
      granted >>= 6;
    } else if (who.gid() == cgid || who.gid() == gid) {
      granted >>= 3;
    }
    return (requested & ~granted & 7) == 0 || who.privileged();
  }

  /** @throws SyscallError EACCES without the access {@code flag} names */
  void check(Cred who, int flag) {
    if (!permits(who, flag)) {
      throw new SyscallError(LinuxErrno.EACCES);
    }
  }

  /**
   * IPC_SET and IPC_RMID: only the owner, the creator or a privileged caller.
   *
   * @throws SyscallError EPERM
   */
  void checkOwner(Cred who) {
    if (who.uid() != uid && who.uid() != cuid && !who.privileged()) {
      throw new SyscallError(LinuxErrno.EPERM);
    }
  }

  /** IPC_SET's common part: the owner and the permission bits. */
  void set(Perm p) {
    uid = p.uid();
    gid = p.gid();
    mode = (mode & ~MODE_BITS) | (p.mode() & MODE_BITS);
    ctime = IpcNamespace.now();
  }

  /** The {@code struct ipc64_perm} an IPC_STAT reports. */
  Perm perm() {
    return new Perm(key, uid, gid, cuid, cgid, mode, seq);
  }

  /**
   * {@code struct ipc64_perm}: 48 bytes on x86-64 (key, uid, gid, cuid, cgid, mode at 0, 4, 8,
   * 12, 16, 20 as 32-bit words, seq a 16-bit word at 24).
   */
  public record Perm(int key, int uid, int gid, int cuid, int cgid, int mode, int seq) {
    public static final int SIZE = 48;
  }
}
