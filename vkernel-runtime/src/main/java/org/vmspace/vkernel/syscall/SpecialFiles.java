package org.vmspace.vkernel.syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.vmspace.vkernel.fs.Fifos;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.fs.HostInode;
import org.vmspace.vkernel.fs.Stat;
import org.vmspace.vkernel.fs.Vfs;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.proc.Blocker;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * mknod(2) and the opening of host files by path, where FIFOs and devices need care.
 *
 * <p>Every host object is opened non-blocking, because a blocking open or read would hold the
 * guest's host thread where no signal reaches it. For a FIFO the kernel then emulates Linux's
 * blocking open: a reader waits for a writer and a writer for a reader (O_RDWR and O_NONBLOCK
 * do not wait; a non-blocking writer without a reader gets ENXIO), and a signal ends the wait
 * with ERESTARTSYS, so the open is restarted after an SA_RESTART handler and fails with EINTR
 * after another. A guest peer is seen at once through {@link Fifos}; a host peer is seen when a
 * writer has written or closed (a reader) or within 50 ms (a writer, by retrying the open).
 * Regular files and directories get their blocking mode back; FIFOs and terminals keep the
 * host descriptor non-blocking and have blocking I/O emulated by the read and write paths.
 */
final class SpecialFiles {
  private static final int S_IFMT = 0170000;
  private static final int S_IFSOCK = 0140000;
  private static final int S_IFBLK = 0060000;
  /** How often a waiting open looks again for a peer that is a host process. */
  private static final long RETRY_NANOS = 50_000_000L;

  private SpecialFiles() {}

  /**
   * mknod(2)/mknodat(2): regular files, FIFOs and sockets are made; devices are EPERM as for an
   * unprivileged Linux process (after EEXIST, as Linux checks the name first).
   */
  static long mknod(Call c, Vfs.Parent p, int mode) {
    int type = mode & S_IFMT;
    boolean device = type == Stat.S_IFCHR || type == S_IFBLK;
    if (device) {
      try (Arena a = Arena.ofConfined()) {
        MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
        if (Host.fstatat(p.dirFd(), p.name(), st, Host.AT_SYMLINK_NOFOLLOW) == 0) {
          throw new SyscallError(LinuxErrno.EEXIST);
        }
      }
      throw new SyscallError(LinuxErrno.EPERM, "device nodes cannot be made");
    }
    int made = (type == 0 ? Stat.S_IFREG : type) | (mode & 07777 & ~c.process.umask());
    long r = Host.mknodat(p.dirFd(), p.name(), made, 0);
    if (r < 0) {
      throw new SyscallError((int) -r);
    }
    return 0;
  }

  /**
   * The check Linux makes of mknod's mode before it looks at the path: a directory is EPERM
   * (mkdir makes those), an unknown type EINVAL.
   */
  static void checkMknodType(int mode) {
    int type = mode & S_IFMT;
    if (type == Stat.S_IFDIR) {
      throw new SyscallError(LinuxErrno.EPERM, "mknod cannot make a directory");
    }
    if (type != 0 && type != Stat.S_IFREG && type != Stat.S_IFCHR && type != S_IFBLK && type != Stat.S_IFIFO
        && type != S_IFSOCK) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
  }

  /**
   * Opens a host node for the guest and makes its description.
   *
   * @param hostFlags the open flags for the host (without O_NONBLOCK, which this adds)
   * @param status the description's status flags as the guest asked
   */
  static FileDescription open(Call c, Vfs.HostNode h, int hostFlags, int mode, int status) {
    Vfs vfs = c.kernel.vfs();
    boolean guestNonBlocking = (status & Host.O_NONBLOCK) != 0;
    int fd = openWaitingForReader(c, h, hostFlags, mode, guestNonBlocking);
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      Host.fstat(fd, st);
      int type = Stat.mode(st) & S_IFMT;
      boolean writable = h.mount().writable();
      if (type == Stat.S_IFIFO && (hostFlags & Host.O_PATH) == 0) {
        HostInode key = key(st);
        Fifos.FifoDescription d = new Fifos.FifoDescription(vfs.fifos(), key, fd, h.guestPath(), status, writable);
        if ((hostFlags & Host.O_ACCMODE) == Host.O_RDONLY && !guestNonBlocking) {
          try {
            awaitWriter(c, vfs.fifos(), key, fd);
          } catch (RuntimeException e) {
            d.release();
            throw e;
          }
        }
        return d;
      }
      boolean stream = type == Stat.S_IFCHR && (hostFlags & Host.O_PATH) == 0;
      if (!stream) {
        Host.fcntl(fd, 4 /* F_SETFL */, hostFlags & Host.O_APPEND);
      }
      return new HostFileDescription(fd, h.guestPath(), status, stream, writable);
    }
  }

  /** Opens non-blocking; a blocking writer of a FIFO without a reader waits for one. */
  private static int openWaitingForReader(Call c, Vfs.HostNode h, int hostFlags, int mode, boolean guestNonBlocking) {
    Vfs vfs = c.kernel.vfs();
    HostInode key = null;
    Runnable wake = () -> c.thread.blocker().wake(false);
    try {
      while (true) {
        try {
          return vfs.openHost(h, hostFlags | Host.O_NONBLOCK, mode);
        } catch (SyscallError e) {
          boolean writer = (hostFlags & Host.O_ACCMODE) == Host.O_WRONLY;
          if (e.errno() != LinuxErrno.ENXIO || guestNonBlocking || !writer) {
            throw e;
          }
          if (key == null) {
            key = fifoKey(vfs, h);
            if (key == null) {
              throw e; // ENXIO of something other than a FIFO (a socket, a device without driver)
            }
            vfs.fifos().wakeOnOpen(key, wake);
          }
          if (!vfs.fifos().hasReader(key) && wait(c, -1) == Blocker.Wait.SIGNAL) {
            throw new SyscallError(LinuxErrno.ERESTARTSYS);
          }
        }
      }
    } finally {
      if (key != null) {
        vfs.fifos().stopWaking(key, wake);
      }
    }
  }

  /** Waits until the FIFO whose read end is {@code fd} has (had) a writer. */
  private static void awaitWriter(Call c, Fifos fifos, HostInode key, int fd) {
    Runnable wake = () -> c.thread.blocker().wake(false);
    fifos.wakeOnOpen(key, wake);
    try {
      // Data or a hang-up (a writer came and went) show a host writer; the registry a guest one.
      while (!fifos.hasWriter(key)) {
        Blocker.Wait w = wait(c, fd);
        if (w == Blocker.Wait.READY) {
          return;
        }
        if (w == Blocker.Wait.SIGNAL) {
          throw new SyscallError(LinuxErrno.ERESTARTSYS);
        }
      }
    } finally {
      fifos.stopWaking(key, wake);
    }
  }

  private static Blocker.Wait wait(Call c, int fd) {
    return c.thread.blocker().await(fd, Host.POLLIN, System.nanoTime() + RETRY_NANOS, true);
  }

  /** The key of the node if it is a FIFO, else null. */
  private static HostInode fifoKey(Vfs vfs, Vfs.HostNode h) {
    int p = vfs.openPath(h);
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      if (Host.fstatat(p, new byte[0], st, Host.AT_EMPTY_PATH) != 0
          || (Stat.mode(st) & S_IFMT) != Stat.S_IFIFO) {
        return null;
      }
      return key(st);
    } finally {
      Host.close(p);
    }
  }

  private static HostInode key(MemorySegment st) {
    return HostInode.of(st);
  }
}
