package org.vmspace.vkernel.syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.vmspace.vkernel.fs.FdTable;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.proc.Task;
import org.vmspace.vkernel.proc.Sessions;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.LinuxLocks;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * System calls on descriptors: read and write (blocking emulated with poll on non-blocking host
 * pipes, so that a signal interrupts them), vectored and positioned I/O, descriptors
 * (close, dup, fcntl), pipes, ioctl, poll and select.
 */
final class IoCalls {
  private static final int MAX_RW = 0x7ffff000;
  private static final int IOV_MAX = 1024;
  private static final int F_DUPFD = 0;
  private static final int F_GETFD = 1;
  private static final int F_SETFD = 2;
  private static final int F_GETFL = 3;
  private static final int F_SETFL = 4;
  private static final int F_SETOWN = 8;
  private static final int F_GETOWN = 9;
  private static final int F_DUPFD_CLOEXEC = 1030;
  private static final int F_SETPIPE_SZ = 1031;
  private static final int F_GETPIPE_SZ = 1032;
  private static final long TCGETS = 0x5401;
  private static final long TCSETS = 0x5402;
  private static final long TCSETSW = 0x5403;
  private static final long TCSETSF = 0x5404;
  private static final long TIOCSCTTY = 0x540E;
  private static final long TIOCGPGRP = 0x540F;
  private static final long TIOCSPGRP = 0x5410;
  private static final long TIOCGWINSZ = 0x5413;
  private static final long TIOCSWINSZ = 0x5414;
  private static final long FIONREAD = 0x541B;
  private static final long FIONBIO = 0x5421;
  private static final long TIOCNOTTY = 0x5422;
  private static final long TIOCGSID = 0x5429;
  private static final long FIONCLEX = 0x5450;
  private static final long FIOCLEX = 0x5451;
  private static final short POLLIN = 0x1;
  private static final short POLLPRI = 0x2;
  private static final short POLLOUT = 0x4;
  private static final short POLLNVAL = 0x20;
  private static final short POLLRDNORM = 0x40;
  private static final short POLLWRNORM = 0x100;

  private IoCalls() {}

  static void register(Syscalls s) {
    s.def(0, "read", "fxu", c -> read(c, c.fd(0), c.a(1), c.a(2), -1));
    s.def(1, "write", "fwu", c -> write(c, c.fd(0), c.a(1), c.a(2), -1));
    s.def(17, "pread64", "fxud", c -> read(c, c.fd(0), c.a(1), c.a(2), offset(c.a(3))));
    s.def(18, "pwrite64", "fwud", c -> write(c, c.fd(0), c.a(1), c.a(2), offset(c.a(3))));
    s.def(19, "readv", "fxd", c -> readv(c, -1));
    s.def(20, "writev", "fxd", c -> writev(c, -1));
    s.def(295, "preadv", "fxdd", c -> readv(c, offset(c.a(3))));
    s.def(296, "pwritev", "fxdd", c -> writev(c, offset(c.a(3))));
    s.def(3, "close", "f", c -> {
      LockCalls.closing(c, c.fd(0));
      c.fds().close(c.i(0));
      return 0;
    });
    s.def(436, "close_range", "ddx", IoCalls::closeRange);
    s.def(8, "lseek", "fdd", c -> c.fd(0).lseek(c.a(1), c.i(2)));
    s.def(32, "dup", "f", c -> c.fds().install(c.fd(0).retain(), 0, false));
    s.def(33, "dup2", "ff", c -> dup3(c, c.i(0), c.i(1), 0, true));
    s.def(292, "dup3", "ffO", c -> dup3(c, c.i(0), c.i(1), c.i(2), false));
    s.def(22, "pipe", "x", c -> pipe(c, c.a(0), 0));
    s.def(293, "pipe2", "xO", c -> pipe(c, c.a(0), c.i(1)));
    s.def(72, "fcntl", "fdx", IoCalls::fcntl);
    s.def(16, "ioctl", "fxx", IoCalls::ioctl);
    s.def(7, "poll", "xdd", c -> poll(c, c.a(0), c.a(1), c.i(2) < 0 ? 0 : deadlineMillis(c.i(2)), c.i(2) < 0, 0));
    s.def(271, "ppoll", "xdxxu", IoCalls::ppoll);
    s.def(23, "select", "dxxxx", c -> select(c, c.a(4)));
    s.def(270, "pselect6", "dxxxxx", IoCalls::pselect6);
    s.def(74, "fsync", "f", c -> sync(c.fd(0)));
    s.def(75, "fdatasync", "f", c -> sync(c.fd(0)));
    s.def(162, "sync", "", c -> 0);
    s.def(73, "flock", "fd", c -> LockCalls.flock(c, c.fd(0), c.i(1)));
    s.def(41, "socket", "ddd", c -> {
      throw new SyscallError(LinuxErrno.EAFNOSUPPORT, "sockets are not supported");
    });
    s.def(53, "socketpair", "dddx", c -> {
      throw new SyscallError(LinuxErrno.EAFNOSUPPORT, "sockets are not supported");
    });
    for (int nr : new int[] {42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 54, 55, 288}) {
      s.def(nr, socketCallName(nr), "fxx", c -> {
        c.fd(0);
        throw new SyscallError(LinuxErrno.ENOTSOCK);
      });
    }
  }

  private static String socketCallName(int nr) {
    return switch (nr) {
      case 42 -> "connect";
      case 43 -> "accept";
      case 44 -> "sendto";
      case 45 -> "recvfrom";
      case 46 -> "sendmsg";
      case 47 -> "recvmsg";
      case 48 -> "shutdown";
      case 49 -> "bind";
      case 50 -> "listen";
      case 51 -> "getsockname";
      case 52 -> "getpeername";
      case 54 -> "setsockopt";
      case 55 -> "getsockopt";
      default -> "accept4";
    };
  }

  private static long offset(long off) {
    if (off < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return off;
  }

  private static long deadlineMillis(int ms) {
    return System.nanoTime() + ms * 1_000_000L;
  }

  // ---------------------------------------------------------------- read and write

  /**
   * read(2)/pread64(2) into guest memory. Regular files are read until {@code len} or the end;
   * pipes, terminals and devices return what one read gives.
   */
  static long read(Call c, FileDescription d, long addr, long len, long offset) {
    if (!d.readable() || (d.statusFlags() & Host.O_PATH) != 0) {
      throw new SyscallError(LinuxErrno.EBADF);
    }
    if (len < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    len = Math.min(len, MAX_RW);
    MemorySegment buf = Call.buffer();
    long total = 0;
    boolean stream = d.pollFd() >= 0;
    while (total < len) {
      long want = Math.min(Call.CHUNK, len - total);
      long n;
      if (offset >= 0) {
        n = d.pread(buf, want, offset + total);
      } else if (stream) {
        n = readStream(c, d, buf, want, total == 0);
        if (n < 0) {
          break;
        }
      } else {
        n = d.read(buf, want);
      }
      if (n == 0) {
        break;
      }
      try {
        c.mem().write(addr + total, buf, 0, n);
      } catch (SyscallError e) {
        if (total > 0) {
          return total;
        }
        throw e;
      }
      total += n;
      if (stream || n < want) {
        break;
      }
    }
    return total;
  }

  /** One read of a pipe or terminal; -1 if it would block and {@code mayBlock} is false. */
  private static long readStream(Call c, FileDescription d, MemorySegment buf, long want, boolean mayBlock) {
    int pfd = d.pollFd();
    boolean hostNonBlocking = d instanceof HostFileDescription h && h.hostNonBlocking();
    while (true) {
      if (!hostNonBlocking && !d.nonBlocking()) {
        // A blocking host descriptor (inherited stdin): wait for data here, not in read(2).
        waitFor(c, pfd, POLLIN);
      }
      try {
        return d.read(buf, want);
      } catch (SyscallError e) {
        if (e.errno() != LinuxErrno.EAGAIN || d.nonBlocking() || !mayBlock) {
          if (!mayBlock && e.errno() == LinuxErrno.EAGAIN) {
            return -1;
          }
          throw e;
        }
        waitFor(c, pfd, POLLIN);
      }
    }
  }

  private static void waitFor(Call c, int hostFd, short events) {
    if (c.thread.await(hostFd, events, 0, true) == Task.Wait.SIGNAL) {
      throw new SyscallError(LinuxErrno.ERESTARTSYS);
    }
  }

  /**
   * write(2)/pwrite64(2) from guest memory. To a pipe it writes everything before returning
   * (waiting for room), unless a signal comes after part of it; EPIPE also sends SIGPIPE.
   */
  static long write(Call c, FileDescription d, long addr, long len, long offset) {
    if (!d.writable()) {
      throw new SyscallError(LinuxErrno.EBADF);
    }
    if (len < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    len = Math.min(len, MAX_RW);
    MemorySegment buf = Call.buffer();
    long total = 0;
    while (total < len) {
      long want = Math.min(Call.CHUNK, len - total);
      try {
        c.mem().read(addr + total, buf, 0, want);
      } catch (SyscallError e) {
        if (total > 0) {
          return total;
        }
        throw e;
      }
      long done = writeChunk(c, d, buf, want, offset < 0 ? -1 : offset + total, total);
      total += done;
      if (done < want) {
        break;
      }
    }
    return total;
  }

  /** Writes one buffer; returns how much went (less than {@code len} only if interrupted). */
  private static long writeChunk(Call c, FileDescription d, MemorySegment buf, long len, long offset, long before) {
    if (offset >= 0) {
      return d.pwrite(buf, len, offset);
    }
    long done = 0;
    while (done < len) {
      try {
        long n = d.write(buf.asSlice(done), len - done);
        done += n;
      } catch (SyscallError e) {
        if (e.errno() == LinuxErrno.EPIPE) {
          c.thread.post(Signals.SIGPIPE, SigInfo.user(Signals.SIGPIPE, c.process.pid(), c.process.uid()));
        }
        if (e.errno() == LinuxErrno.EAGAIN && !d.nonBlocking() && d.pollFd() >= 0) {
          if (c.thread.await(d.pollFd(), POLLOUT, 0, true) == Task.Wait.SIGNAL) {
            if (before + done > 0) {
              return done;
            }
            throw new SyscallError(LinuxErrno.ERESTARTSYS);
          }
          continue;
        }
        if (before + done > 0) {
          return done;
        }
        throw e;
      }
    }
    return done;
  }

  private record Iov(long base, long len) {}

  private static Iov[] iovecs(Call c, long addr, int count) {
    if (count < 0 || count > IOV_MAX) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    Iov[] v = new Iov[count];
    if (count == 0) {
      return v;
    }
    ByteBuffer b = ByteBuffer.wrap(c.mem().readBytes(addr, 16 * count)).order(ByteOrder.LITTLE_ENDIAN);
    long total = 0;
    for (int i = 0; i < count; i++) {
      v[i] = new Iov(b.getLong(16 * i), b.getLong(16 * i + 8));
      if (v[i].len() < 0 || (total += v[i].len()) < 0) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
    }
    return v;
  }

  /** writev: gathered into one write, so a pipe gets it in one piece. */
  private static long writev(Call c, long offset) {
    FileDescription d = c.fd(0);
    Iov[] v = iovecs(c, c.a(1), c.i(2));
    if (!d.writable()) {
      throw new SyscallError(LinuxErrno.EBADF);
    }
    long total = 0;
    for (Iov iov : v) {
      total += iov.len();
    }
    total = Math.min(total, MAX_RW);
    // Gathered a chunk at a time: one host write per chunk keeps small writes atomic (a pipe's
    // PIPE_BUF), and the kernel never holds more than a chunk of a guest's iovecs.
    try (Arena a = Arena.ofConfined()) {
      MemorySegment buf = a.allocate(Math.max(1, Math.min(total, Call.CHUNK)), 8);
      int iov = 0;
      long inIov = 0;
      long done = 0;
      while (done < total) {
        long fill = 0;
        long want = Math.min(Call.CHUNK, total - done);
        while (fill < want) {
          long n = Math.min(v[iov].len() - inIov, want - fill);
          c.mem().read(v[iov].base() + inIov, buf, fill, n);
          fill += n;
          inIov += n;
          if (inIov == v[iov].len()) {
            iov++;
            inIov = 0;
          }
        }
        long n = writeChunk(c, d, buf, fill, offset < 0 ? -1 : offset + done, done);
        done += n;
        if (n < fill) {
          break; // a short write: what is left was not written
        }
      }
      return done;
    }
  }

  private static long readv(Call c, long offset) {
    FileDescription d = c.fd(0);
    Iov[] v = iovecs(c, c.a(1), c.i(2));
    long total = 0;
    for (Iov iov : v) {
      if (iov.len() == 0) {
        continue;
      }
      long n = read(c, d, iov.base(), iov.len(), offset < 0 ? -1 : offset + total);
      total += n;
      if (n < iov.len() || d.pollFd() >= 0) {
        break;
      }
    }
    return total;
  }

  // ---------------------------------------------------------------- descriptors

  private static long closeRange(Call c) {
    long first = c.a(0) & 0xffffffffL;
    long last = c.a(1) & 0xffffffffL;
    int flags = c.i(2);
    if (first > last || (flags & ~(0x2 | 0x4)) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    FdTable t = c.fds();
    for (long fd = first; fd <= Math.min(last, FdTable.LIMIT - 1); fd++) {
      if (t.isOpen((int) fd)) {
        if ((flags & 0x4) != 0) { // CLOSE_RANGE_CLOEXEC
          t.closeOnExec((int) fd, true);
        } else {
          LockCalls.closing(c, t.get((int) fd));
          t.close((int) fd);
        }
      }
    }
    return 0;
  }

  private static long dup3(Call c, int oldFd, int newFd, int flags, boolean dup2) {
    FileDescription d = c.fds().get(oldFd);
    if (oldFd == newFd) {
      if (dup2) {
        return newFd;
      }
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if ((flags & ~Host.O_CLOEXEC) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (c.fds().isOpen(newFd)) {
      LockCalls.closing(c, c.fds().get(newFd));
    }
    c.fds().installAt(d.retain(), newFd, (flags & Host.O_CLOEXEC) != 0);
    return newFd;
  }

  private static long pipe(Call c, long addr, int flags) {
    if ((flags & ~(Host.O_CLOEXEC | Host.O_NONBLOCK | 0x4000 /* O_DIRECT */)) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    int[] fds = Host.pipe2(Host.O_NONBLOCK | Host.O_CLOEXEC);
    if (fds[0] < 0) {
      throw new SyscallError(-fds[0]);
    }
    int nb = flags & Host.O_NONBLOCK;
    HostFileDescription r = new HostFileDescription(fds[0], "", Host.O_RDONLY | nb, true, true);
    String name = "pipe:[" + r.inode() + "]";
    r = rename(r, name);
    HostFileDescription w = new HostFileDescription(fds[1], name, Host.O_WRONLY | nb, true, true);
    boolean cloexec = (flags & Host.O_CLOEXEC) != 0;
    int rfd = c.fds().install(r, 0, cloexec);
    int wfd;
    try {
      wfd = c.fds().install(w, 0, cloexec);
    } catch (SyscallError e) {
      c.fds().close(rfd);
      throw e;
    }
    try (Arena a = Arena.ofConfined()) {
      MemorySegment out = a.allocate(8, 4);
      out.set(ValueLayout.JAVA_INT, 0, rfd);
      out.set(ValueLayout.JAVA_INT, 4, wfd);
      c.mem().write(addr, out, 0, 8);
    } catch (SyscallError e) {
      c.fds().close(rfd);
      c.fds().close(wfd);
      throw e;
    }
    return 0;
  }

  private static HostFileDescription rename(HostFileDescription d, String name) {
    // The host descriptor moves to a description with the pipe's name.
    int fd = Host.dup(d.hostFd());
    HostFileDescription named = new HostFileDescription(fd, name, d.statusFlags(), true, true);
    Host.fcntl(fd, 2 /* F_SETFD */, 1 /* FD_CLOEXEC */);
    d.release();
    return named;
  }

  private static long fcntl(Call c) {
    int fd = c.i(0);
    int cmd = c.i(1);
    long arg = c.a(2);
    FdTable t = c.fds();
    FileDescription d = t.get(fd);
    return switch (cmd) {
      case F_DUPFD, F_DUPFD_CLOEXEC -> {
        if (arg < 0 || arg >= FdTable.LIMIT) {
          throw new SyscallError(LinuxErrno.EINVAL);
        }
        yield t.install(d.retain(), (int) arg, cmd == F_DUPFD_CLOEXEC);
      }
      case F_GETFD -> t.closeOnExec(fd) ? 1 : 0;
      case F_SETFD -> {
        t.closeOnExec(fd, (arg & 1) != 0);
        yield 0;
      }
      case F_GETFL -> d.statusFlags() | 0x8000; // O_LARGEFILE, as Linux reports on 64-bit
      case F_SETFL -> {
        d.setStatusFlags((int) arg);
        yield 0;
      }
      case LinuxLocks.F_GETLK, LinuxLocks.F_SETLK, LinuxLocks.F_SETLKW, LinuxLocks.F_OFD_GETLK, LinuxLocks.F_OFD_SETLK,
          LinuxLocks.F_OFD_SETLKW -> LockCalls.fcntl(c, d, cmd, arg);
      case F_SETOWN -> 0;
      case F_GETOWN -> 0;
      case F_GETPIPE_SZ -> {
        if (!(d instanceof HostFileDescription h) || !h.isFifo()) {
          throw new SyscallError(LinuxErrno.EBADF);
        }
        yield Host.fcntl(h.hostFd(), F_GETPIPE_SZ, 0);
      }
      case F_SETPIPE_SZ -> {
        if (!(d instanceof HostFileDescription h) || !h.isFifo()) {
          throw new SyscallError(LinuxErrno.EBADF);
        }
        int r = Host.fcntl(h.hostFd(), F_SETPIPE_SZ, (int) arg);
        if (r < 0) {
          throw new SyscallError(-r);
        }
        yield r;
      }
      default -> throw new SyscallError(LinuxErrno.EINVAL, "fcntl command " + cmd);
    };
  }

  private static long sync(FileDescription d) {
    if (d instanceof HostFileDescription h && h.isRegular()) {
      int r = Host.fsync(h.hostFd());
      if (r < 0) {
        throw new SyscallError(-r);
      }
    }
    return 0;
  }

  // ---------------------------------------------------------------- ioctl

  private static long ioctl(Call c) {
    int fd = c.i(0);
    FileDescription d = c.fds().get(fd);
    long req = c.a(1) & 0xffffffffL;
    long arg = c.a(2);
    if (req == FIOCLEX || req == FIONCLEX) {
      c.fds().closeOnExec(fd, req == FIOCLEX);
      return 0;
    }
    if (req == FIONBIO) {
      int on = c.mem().readInt(arg);
      d.setStatusFlags(on != 0 ? d.statusFlags() | Host.O_NONBLOCK : d.statusFlags() & ~Host.O_NONBLOCK);
      return 0;
    }
    try (Arena a = Arena.ofConfined()) {
      if (req == TCGETS || req == TIOCGWINSZ || req == FIONREAD) {
        int size = req == TCGETS ? 36 : req == TIOCGWINSZ ? 8 : 4;
        MemorySegment m = a.allocate(64, 8);
        d.ioctl(req, m);
        c.mem().write(arg, m, 0, size);
        return 0;
      }
      if (req == TCSETS || req == TCSETSW || req == TCSETSF || req == TIOCSWINSZ) {
        int size = req == TIOCSWINSZ ? 8 : 36;
        MemorySegment m = a.allocate(64, 8);
        c.mem().read(arg, m, 0, size);
        d.ioctl(req, m);
        return 0;
      }
      if (req == TIOCGPGRP || req == TIOCSPGRP || req == TIOCGSID || req == TIOCSCTTY || req == TIOCNOTTY) {
        d.ioctl(TCGETS, a.allocate(64, 8)); // ENOTTY unless a terminal
        if (req == TIOCGPGRP) {
          c.mem().writeInt(arg, Sessions.foregroundPgrp(c.kernel));
        } else if (req == TIOCSPGRP) {
          Sessions.foregroundPgrp(c.thread, c.mem().readInt(arg));
        } else if (req == TIOCGSID) {
          c.mem().writeInt(arg, c.process.sid());
        }
        return 0;
      }
    }
    throw new SyscallError(LinuxErrno.ENOTTY);
  }

  // ---------------------------------------------------------------- poll and select

  /**
   * The readiness of guest descriptors, as poll(2) reports it: descriptors with a host pollable
   * object are polled on the host (with the thread's wake eventfd), the rest (regular and
   * virtual files) are always ready, closed ones are POLLNVAL; negative ones are skipped.
   *
   * @param deadline a nanoTime deadline, 0 with {@code forever} false meaning "do not wait"
   * @param sigmaskAddr the mask to wait with (ppoll, pselect6), or 0 for none
   * @return the revents of each descriptor
   * @throws SyscallError ERESTARTNOHAND if a signal came before anything was ready
   */
  private static short[] readiness(Call c, int[] fds, short[] events, long deadline, boolean forever,
      long sigmaskAddr) {
    int n = fds.length;
    short[] revents = new short[n];
    try (Arena a = Arena.ofConfined()) {
      MemorySegment host = a.allocate(8L * Math.max(1, n), 8);
      int[] hostIndex = new int[n];
      int hn = 0;
      boolean ready = false;
      for (int i = 0; i < n; i++) {
        hostIndex[i] = -1;
        if (fds[i] < 0) {
          continue;
        }
        FileDescription d = c.fds().isOpen(fds[i]) ? c.fds().get(fds[i]) : null;
        if (d == null) {
          revents[i] = POLLNVAL;
        } else if (d.pollFd() >= 0) {
          host.set(ValueLayout.JAVA_INT, 8L * hn, d.pollFd());
          host.set(ValueLayout.JAVA_SHORT, 8L * hn + 4, events[i]);
          host.set(ValueLayout.JAVA_SHORT, 8L * hn + 6, (short) 0);
          hostIndex[i] = hn++;
        } else {
          revents[i] = (short) (events[i] & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM));
        }
        ready |= revents[i] != 0;
      }
      if (sigmaskAddr != 0) {
        c.thread.suspendMask(c.mem().readLong(sigmaskAddr));
      }
      long wait = ready ? System.nanoTime() : forever ? 0 : deadline == 0 ? System.nanoTime() : deadline;
      Task.Wait w = c.thread.awaitMany(host, hn, wait);
      if (w == Task.Wait.SIGNAL && !ready) {
        throw new SyscallError(Task.ERESTARTNOHAND);
      }
      for (int i = 0; i < n; i++) {
        if (hostIndex[i] >= 0) {
          revents[i] = host.get(ValueLayout.JAVA_SHORT, 8L * hostIndex[i] + 6);
        }
      }
      return revents;
    }
  }

  /** poll/ppoll over the guest's pollfd array at {@code addr}. */
  static long poll(Call c, long addr, long nfds, long deadline, boolean forever, long sigmaskAddr) {
    if (nfds < 0 || nfds > FdTable.LIMIT) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    int n = (int) nfds;
    byte[] raw = n == 0 ? new byte[0] : c.mem().readBytes(addr, 8 * n);
    ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
    int[] fds = new int[n];
    short[] events = new short[n];
    for (int i = 0; i < n; i++) {
      fds[i] = b.getInt(8 * i);
      events[i] = b.getShort(8 * i + 4);
    }
    short[] revents = readiness(c, fds, events, deadline, forever, sigmaskAddr);
    int count = 0;
    for (int i = 0; i < n; i++) {
      b.putShort(8 * i + 6, revents[i]);
      if (revents[i] != 0) {
        count++;
      }
    }
    if (n > 0) {
      c.mem().writeBytes(addr, raw);
    }
    return count;
  }

  private static long ppoll(Call c) {
    long ts = c.a(2);
    long deadline = 0;
    boolean forever = ts == 0;
    if (!forever) {
      deadline = TimeCalls.deadlineFromTimespec(c, ts);
    }
    if (c.a(3) != 0 && c.a(4) != 8) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return poll(c, c.a(0), c.a(1), deadline, forever, c.a(3));
  }

  private static long pselect6(Call c) {
    long ts = c.a(4);
    long deadline = ts == 0 ? 0 : TimeCalls.deadlineFromTimespec(c, ts);
    long mask = 0;
    if (c.a(5) != 0) {
      long ptr = c.mem().readLong(c.a(5));
      long size = c.mem().readLong(c.a(5) + 8);
      if (ptr != 0) {
        if (size != 8) {
          throw new SyscallError(LinuxErrno.EINVAL);
        }
        mask = ptr;
      }
    }
    return selectSets(c, ts == 0, deadline, mask);
  }

  private static long select(Call c, long tvAddr) {
    boolean forever;
    long deadline = 0;
    if (tvAddr != 0) {
      long sec = c.mem().readLong(tvAddr);
      long usec = c.mem().readLong(tvAddr + 8);
      if (sec < 0 || usec < 0 || usec >= 1_000_000) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
      deadline = System.nanoTime() + sec * 1_000_000_000L + usec * 1000;
      forever = false;
    } else {
      forever = true;
    }
    return selectSets(c, forever, deadline, 0);
  }

  /** select/pselect6 as a poll over the descriptors in the three sets. */
  private static long selectSets(Call c, boolean forever, long deadline, long sigmaskAddr) {
    int nfds = c.i(0);
    if (nfds < 0 || nfds > FdTable.LIMIT) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    int words = (nfds + 63) / 64;
    long[][] sets = new long[3][words];
    for (int k = 0; k < 3; k++) {
      long p = c.a(1 + k);
      for (int w = 0; w < words && p != 0; w++) {
        sets[k][w] = c.mem().readLong(p + 8L * w);
      }
    }
    short[] kinds = {POLLIN, POLLOUT, POLLPRI};
    java.util.List<Integer> polled = new java.util.ArrayList<>();
    java.util.List<Short> wanted = new java.util.ArrayList<>();
    for (int fd = 0; fd < nfds; fd++) {
      short ev = 0;
      for (int k = 0; k < 3; k++) {
        if ((sets[k][fd / 64] & (1L << (fd % 64))) != 0) {
          ev |= kinds[k];
        }
      }
      if (ev != 0) {
        if (!c.fds().isOpen(fd)) {
          throw new SyscallError(LinuxErrno.EBADF);
        }
        polled.add(fd);
        wanted.add(ev);
      }
    }
    int[] fds = polled.stream().mapToInt(Integer::intValue).toArray();
    short[] events = new short[fds.length];
    for (int i = 0; i < events.length; i++) {
      events[i] = wanted.get(i);
    }
    short[] revents = readiness(c, fds, events, deadline, forever, sigmaskAddr);
    long[][] out = new long[3][words];
    int count = 0;
    for (int i = 0; i < fds.length; i++) {
      long bit = 1L << (fds[i] % 64);
      boolean hup = (revents[i] & (0x8 | 0x10)) != 0; // POLLERR, POLLHUP make it readable/writable
      for (int k = 0; k < 3; k++) {
        boolean ready = (revents[i] & kinds[k]) != 0 || (k < 2 && hup);
        if ((events[i] & kinds[k]) != 0 && ready) {
          out[k][fds[i] / 64] |= bit;
          count++;
        }
      }
    }
    for (int k = 0; k < 3; k++) {
      long p = c.a(1 + k);
      for (int w = 0; w < words && p != 0; w++) {
        c.mem().writeLong(p + 8L * w, out[k][w]);
      }
    }
    return count;
  }
}
