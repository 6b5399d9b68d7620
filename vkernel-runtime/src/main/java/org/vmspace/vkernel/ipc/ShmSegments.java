package org.vmspace.vkernel.ipc;

import java.util.IdentityHashMap;
import java.util.Map;
import java.util.function.LongFunction;
import java.util.function.ToLongFunction;
import org.vmspace.api.Backing;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.VmspaceException;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * System V shared memory segments (shmget, shmat, shmdt, shmctl) with Linux's default limits,
 * checks and errnos. A segment's memory is a {@link MemoryObject} of the vmspace service: each
 * shmat maps it shared into the caller's address space (the caller does the mapping), so every
 * process attaching the segment, and every child a fork makes of one, sees the same bytes.
 *
 * <p>The number of attaches is not counted here but asked of the address spaces (a function
 * given at construction counts the mappings of a segment's object in all processes), so that
 * fork, munmap, execve and exit, which make and drop attaches without telling this class, are
 * counted as Linux counts them. A segment removed with IPC_RMID while attached keeps its id
 * (and loses its key, which a new shmget may then take) until its last attach goes; it is then
 * destroyed, when this class is next called ({@link #reap} after an exit). Thread-safe.
 */
public final class ShmSegments {
  /** The smallest segment (SHMMIN). */
  public static final long SHMMIN = 1;
  /** The largest segment (SHMMAX, an unsigned value: ULONG_MAX - 2^24, Linux's default). */
  public static final long SHMMAX = -1L - (1L << 24);
  /** The most pages in all segments (SHMALL, unsigned, Linux's default). */
  public static final long SHMALL = -1L - (1L << 24);
  /** The most segments (SHMMNI), and the most one process may attach (SHMSEG). */
  public static final int SHMMNI = 4096;
  public static final int SHM_RDONLY = 010000;
  public static final int SHM_RND = 020000;
  public static final int SHM_REMAP = 040000;
  public static final int SHM_EXEC = 0100000;
  /** Mode flags: removed while attached; locked in memory. */
  public static final int SHM_DEST = 01000;
  public static final int SHM_LOCKED = 02000;
  private static final long PAGE = 4096;

  /** shmid64_ds's fields, as IPC_STAT reports them. */
  public record Stat(IpcObject.Perm perm, long segsz, long atime, long dtime, long ctime, int cpid, int lpid,
      long nattch) {}

  /** What a shmat maps: the segment's memory, its size, and the key for the mapping's name. */
  public record Attach(Segment segment, MemoryObject memory, long size, int key) {}

  /** One segment (opaque to callers: handed back to {@link #attached}). */
  public static final class Segment extends IpcObject {
    final long size;
    final MemoryObject memory;
    final int cpid;
    int lpid;
    long atime;
    long dtime;
    /** shmats between {@link #attach} and {@link #attached}: their mappings are not counted yet. */
    int pending;

    Segment(int key, Cred creator, int mode, long size, MemoryObject memory) {
      super(key, creator, mode);
      this.size = size;
      this.memory = memory;
      this.cpid = creator.pid();
    }
  }

  private final IpcIds<Segment> ids = new IpcIds<>(SHMMNI);
  private final Map<Backing, Segment> byMemory = new IdentityHashMap<>();
  private final LongFunction<MemoryObject> allocate;
  private final ToLongFunction<Backing> attaches;
  private long pages;

  /**
   * @param allocate makes a zero-filled memory object of a page-rounded size
   * @param attaches how many attaches of an object there are now (mappings, counting the
   *     adjacent pieces of one attach once, in all address spaces)
   */
  public ShmSegments(LongFunction<MemoryObject> allocate, ToLongFunction<Backing> attaches) {
    this.allocate = allocate;
    this.attaches = attaches;
  }

  /**
   * shmget: {@code size} is unsigned.
   *
   * @throws SyscallError EINVAL (a new segment's size below SHMMIN or over SHMMAX, an existing
   *     one smaller than {@code size}), ENOENT, EEXIST, EACCES, ENOSPC, ENOMEM
   */
  public synchronized int get(int key, long size, int flags, Cred who) {
    reapLocked();
    Segment s = ids.get(key, flags, who, () -> {
      if (Long.compareUnsigned(size, SHMMIN) < 0 || Long.compareUnsigned(size, SHMMAX) > 0) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
      long n = Long.divideUnsigned(size, PAGE) + (size % PAGE != 0 ? 1 : 0);
      if (Long.compareUnsigned(pages + n, SHMALL) > 0 || pages + n < pages) {
        throw new SyscallError(LinuxErrno.ENOSPC);
      }
      MemoryObject memory;
      try {
        memory = allocate.apply(n * PAGE);
      } catch (VmspaceException e) {
        throw new SyscallError(LinuxErrno.ENOMEM, e.getMessage());
      }
      pages += n;
      Segment made = new Segment(key, who, flags, size, memory);
      byMemory.put(memory, made);
      return made;
    }, existing -> {
      if (Long.compareUnsigned(existing.size, size) < 0) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
    });
    return s.id;
  }

  /**
   * shmat's checks, before the caller maps {@link Attach#memory} (shared, {@link Attach#size}
   * bytes) and calls {@link #attached}, whatever the mapping's outcome. A segment removed but
   * still attached may be attached again, as on Linux.
   *
   * @throws SyscallError EINVAL, EACCES (read, and write unless SHM_RDONLY, and execute with
   *     SHM_EXEC)
   */
  public synchronized Attach attach(int id, int flags, Cred who) {
    reapLocked();
    Segment s = ids.lookup(id);
    int access = 0444 | ((flags & SHM_RDONLY) == 0 ? 0222 : 0) | ((flags & SHM_EXEC) != 0 ? 0111 : 0);
    s.check(who, access);
    s.pending++;
    return new Attach(s, s.memory, s.size, s.key);
  }

  /** Ends an {@link #attach}: {@code ok} whether the mapping was made (then the times change). */
  public synchronized void attached(Segment s, Cred who, boolean ok) {
    s.pending--;
    if (ok) {
      s.atime = IpcNamespace.now();
      s.lpid = who.pid();
    }
    reapLocked();
  }

  /** The size of the segment whose memory {@code b} is, or -1 if it is none (for shmdt). */
  public synchronized long sizeOf(Backing b) {
    Segment s = byMemory.get(b);
    return s == null ? -1 : s.size;
  }

  /** shmdt unmapped an attach of the segment whose memory {@code b} is. */
  public synchronized void detached(Backing b, Cred who) {
    Segment s = byMemory.get(b);
    if (s != null) {
      s.dtime = IpcNamespace.now();
      s.lpid = who.pid();
    }
    reapLocked();
  }

  /** Destroys the removed segments no process has attached any more (after an exit). */
  public synchronized void reap() {
    reapLocked();
  }

  private void reapLocked() {
    for (Segment s : byMemory.values().toArray(Segment[]::new)) {
      if ((s.mode & SHM_DEST) != 0 && s.pending == 0 && attaches.applyAsLong(s.memory) == 0) {
        destroy(s);
      }
    }
  }

  private void destroy(Segment s) {
    ids.remove(s);
    byMemory.remove(s.memory);
    pages -= (s.size + PAGE - 1) / PAGE;
    s.memory.close(); // the memory goes with its last mapping
  }

  /**
   * IPC_STAT (by id) or SHM_STAT / SHM_STAT_ANY (by index; {@code any} skips the permission).
   *
   * @throws SyscallError EINVAL, EACCES
   */
  public synchronized Stat stat(int idOrIndex, boolean index, boolean any, Cred who) {
    reapLocked();
    Segment s = index ? ids.atIndex(idOrIndex) : ids.lookup(idOrIndex);
    if (s == null) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (!any) {
      s.check(who, 0444);
    }
    return new Stat(s.perm(), s.size, s.atime, s.dtime, s.ctime, s.cpid, s.lpid,
        attaches.applyAsLong(s.memory) + s.pending);
  }

  /** The id of the segment at an index (SHM_STAT's result). */
  public synchronized int idAt(int index) {
    Segment s = ids.atIndex(index);
    if (s == null) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return s.id;
  }

  /** IPC_SET: owner, group and mode bits. @throws SyscallError EINVAL, EPERM */
  public synchronized void set(int id, Cred who, int uid, int gid, int mode) {
    Segment s = ids.lookup(id);
    s.checkOwner(who);
    s.set(new IpcObject.Perm(s.key, uid, gid, s.cuid, s.cgid, mode, s.seq));
  }

  /**
   * SHM_LOCK / SHM_UNLOCK: sets or clears SHM_LOCKED (the memory is never swapped out here, so
   * the flag is all there is to it). Owner, creator or privileged only.
   *
   * @throws SyscallError EINVAL, EPERM
   */
  public synchronized void lock(int id, Cred who, boolean lock) {
    Segment s = ids.lookup(id);
    s.checkOwner(who);
    s.mode = lock ? s.mode | SHM_LOCKED : s.mode & ~SHM_LOCKED;
  }

  /**
   * IPC_RMID: destroys the segment if nothing has it attached; else marks it SHM_DEST and frees
   * its key, and the last detach destroys it.
   *
   * @throws SyscallError EINVAL, EPERM
   */
  public synchronized void remove(int id, Cred who) {
    Segment s = ids.lookup(id);
    s.checkOwner(who);
    s.mode |= SHM_DEST;
    ids.forgetKey(s);
    reapLocked();
  }

  /** IPC_INFO: struct shminfo64's limits, and the highest index used. */
  public synchronized long[] limits() {
    return new long[] {SHMMAX, SHMMIN, SHMMNI, SHMMNI, SHMALL, Math.max(ids.highestIndex(), 0)};
  }

  /** SHM_INFO: segments in use, pages in them, and the highest index used. */
  public synchronized long[] usage() {
    reapLocked();
    return new long[] {ids.count(), pages, Math.max(ids.highestIndex(), 0)};
  }
}
