package org.vmspace.vkernel.fs;

import static org.vmspace.vkernel.sys.LinuxLocks.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.LinuxErrno;

/**
 * The host side of the guest's advisory locks on host files, so that host processes locking the
 * same file exclude the guest and are excluded by it.
 *
 * <p>Each lock owner (a guest process for POSIX record locks, a description for OFD and flock
 * locks) gets, for each host file it locks, a host descriptor of its own, reopened through
 * {@code /proc/self/fd}. The vkernel takes on it the very lock the owner is given, as an
 * open-file-description lock ({@code F_OFD_SETLK}) for record locks or as a {@code flock}: the
 * host then splits and merges that owner's ranges as Linux does for the guest, so its state
 * mirrors {@link FileLocks}' table. Owners of one vkernel never conflict on the host where they
 * do not in the table (the table is asked first), so whatever the host refuses is held by
 * someone outside: a host process or another vkernel. Closing the owner's descriptor drops all
 * its host locks on the file at once.
 *
 * <p>Where the host cannot lock (a filesystem without locks, a descriptor that cannot be
 * reopened with the access the lock needs) the table alone decides, as before. Not
 * thread-safe: {@link FileLocks} calls it under its own monitor.
 */
final class HostLocks {
  /** Which host mechanism mirrors the table. */
  enum Kind {
    /** fcntl record locks, mirrored as OFD locks (POSIX and OFD guest locks alike). */
    RECORD,
    /** flock(2) locks. */
    FLOCK
  }

  private final Kind kind;
  private final Map<Object, Map<HostInode, Integer>> fds = new HashMap<>();

  HostLocks(Kind kind) {
    this.kind = kind;
  }

  /**
   * Takes the lock on the host for {@code owner}, through its own descriptor of the file {@code
   * via} refers to.
   *
   * @return false if something outside the vkernel holds a conflicting lock (nothing changed);
   *     true if the host lock is taken or the host cannot lock this file
   */
  boolean set(Object owner, HostInode file, FileDescription via, FileLocks.Type type, long start, long end) {
    int fd = descriptor(owner, file, via, type);
    if (fd < 0) {
      return true;
    }
    int r = kind == Kind.RECORD
        ? record(fd, F_OFD_SETLK, type == FileLocks.Type.WRITE ? F_WRLCK : F_RDLCK, start, end, null)
        : Host.flock(fd, (type == FileLocks.Type.WRITE ? LOCK_EX : LOCK_SH) | LOCK_NB);
    return r != -LinuxErrno.EAGAIN && r != -LinuxErrno.EACCES;
  }

  /** Drops the owner's host locks over the range (its descriptor stays for the rest). */
  void unset(Object owner, HostInode file, long start, long end) {
    Integer fd = fds.getOrDefault(owner, Map.of()).get(file);
    if (fd == null) {
      return;
    }
    if (kind == Kind.RECORD) {
      record(fd, F_OFD_SETLK, F_UNLCK, start, end, null);
    } else {
      Host.flock(fd, LOCK_UN);
    }
  }

  /** Drops every host lock of the owner on the file by closing its descriptor. */
  void drop(Object owner, HostInode file) {
    Map<HostInode, Integer> mine = fds.get(owner);
    if (mine != null) {
      Integer fd = mine.remove(file);
      if (fd != null) {
        Host.close(fd);
      }
      if (mine.isEmpty()) {
        fds.remove(owner);
      }
    }
  }

  /** Drops every host lock of the owner. */
  void dropAll(Object owner) {
    Map<HostInode, Integer> mine = fds.remove(owner);
    if (mine != null) {
      mine.values().forEach(Host::close);
    }
  }

  /**
   * A record lock held outside the vkernel that conflicts with {@code type} over the range, as
   * F_GETLK reports it (owner {@link FileLocks#HOST}; pid 0 for a process outside the guest's
   * pid space, -1 for an OFD lock, as Linux reports them across pid namespaces), or null.
   */
  FileLocks.Lock conflict(Object owner, HostInode file, FileDescription via, FileLocks.Type type, long start, long end) {
    if (kind != Kind.RECORD) {
      return null;
    }
    // The owner's own descriptor does not see the owner's own locks as conflicts; any other
    // descriptor of the file would, so the description's is only used while the owner has none.
    Integer mine = fds.getOrDefault(owner, Map.of()).get(file);
    if (mine == null && !lockable(via)) {
      return null;
    }
    int fd = mine != null ? mine : via.hostFd();
    try (Arena a = Arena.ofConfined()) {
      MemorySegment fl = a.allocate(FLOCK_SIZE, 8);
      if (record(fd, F_OFD_GETLK, type == FileLocks.Type.WRITE ? F_WRLCK : F_RDLCK, start, end, fl) != 0
          || fl.get(ValueLayout.JAVA_SHORT, 0) == F_UNLCK) {
        return null;
      }
      long s = fl.get(ValueLayout.JAVA_LONG, 8);
      long len = fl.get(ValueLayout.JAVA_LONG, 16);
      FileLocks.Type t = fl.get(ValueLayout.JAVA_SHORT, 0) == F_WRLCK ? FileLocks.Type.WRITE : FileLocks.Type.READ;
      int pid = fl.get(ValueLayout.JAVA_INT, 24) == -1 ? -1 : 0;
      return new FileLocks.Lock(FileLocks.HOST, pid, t, s, len == 0 ? FileLocks.TO_EOF : s + len - 1);
    }
  }

  /** The owner's descriptor of the file, opened on first use; -1 if there can be none. */
  private int descriptor(Object owner, HostInode file, FileDescription via, FileLocks.Type type) {
    Map<HostInode, Integer> mine = fds.computeIfAbsent(owner, o -> new HashMap<>());
    Integer fd = mine.get(file);
    if (fd != null) {
      return fd;
    }
    if (!lockable(via)) {
      if (mine.isEmpty()) {
        fds.remove(owner);
      }
      return -1;
    }
    byte[] path = ("/proc/self/fd/" + via.hostFd()).getBytes(StandardCharsets.US_ASCII);
    int flags = Host.O_CLOEXEC | Host.O_NOCTTY | Host.O_NONBLOCK;
    // Read and write when the file allows both, so that the owner's later locks of the other
    // type go through the same descriptor; else the access this lock needs.
    int opened = Host.openat2(Host.AT_FDCWD, path, flags | Host.O_RDWR, 0, 0);
    if (opened < 0) {
      opened = Host.openat2(Host.AT_FDCWD, path,
          flags | (type == FileLocks.Type.WRITE ? Host.O_WRONLY : Host.O_RDONLY), 0, 0);
    }
    if (opened < 0) {
      if (mine.isEmpty()) {
        fds.remove(owner);
      }
      return -1;
    }
    mine.put(file, opened);
    return opened;
  }

  /**
   * Whether the description is a host file or directory. A FIFO is not reopened: an extra
   * reader or writer on the host would change what the guest's ends see.
   */
  private static boolean lockable(FileDescription d) {
    return d instanceof HostFileDescription h && h.hostFd() >= 0 && (h.isRegular() || h.isDirectory());
  }

  /** One fcntl lock command on a whole {@code struct flock}; returns 0 or minus the errno. */
  private static int record(int fd, int cmd, short type, long start, long end, MemorySegment out) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment fl = out != null ? out : a.allocate(FLOCK_SIZE, 8);
      fl.fill((byte) 0);
      fl.set(ValueLayout.JAVA_SHORT, 0, type);
      fl.set(ValueLayout.JAVA_LONG, 8, start);
      fl.set(ValueLayout.JAVA_LONG, 16, end == FileLocks.TO_EOF ? 0 : end - start + 1);
      return Host.fcntl(fd, cmd, fl);
    }
  }
}
