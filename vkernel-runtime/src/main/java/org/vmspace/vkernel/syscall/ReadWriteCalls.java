package org.vmspace.vkernel.syscall;

import static org.vmspace.vkernel.syscall.PollCalls.POLLIN;
import static org.vmspace.vkernel.syscall.PollCalls.POLLOUT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.vmspace.vkernel.fs.EventFd;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.net.TimedSocket;
import org.vmspace.vkernel.proc.Blocker;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * Reading and writing through descriptors: read and write (blocking emulated with poll on
 * non-blocking host pipes, so that a signal interrupts them), their positioned and vectored
 * forms, lseek, and fsync, fdatasync and sync.
 */
final class ReadWriteCalls {
  private static final int MAX_RW = 0x7ffff000;
  private static final int IOV_MAX = 1024;

  private ReadWriteCalls() {}

  static long read(Call c) {
    return read(c, c.fd(0), c.a(1), c.a(2), -1);
  }

  static long write(Call c) {
    return write(c, c.fd(0), c.a(1), c.a(2), -1);
  }

  static long pread64(Call c) {
    return read(c, c.fd(0), c.a(1), c.a(2), offset(c.a(3)));
  }

  static long pwrite64(Call c) {
    return write(c, c.fd(0), c.a(1), c.a(2), offset(c.a(3)));
  }

  static long readv(Call c) {
    return readv(c, -1);
  }

  static long writev(Call c) {
    return writev(c, -1);
  }

  static long preadv(Call c) {
    return readv(c, offset(c.a(3)));
  }

  static long pwritev(Call c) {
    return writev(c, offset(c.a(3)));
  }

  static long lseek(Call c) {
    return c.fd(0).lseek(c.a(1), c.i(2));
  }

  static long fsync(Call c) {
    return sync(c.fd(0));
  }

  static long fdatasync(Call c) {
    return sync(c.fd(0));
  }

  static long sync(Call c) {
    return 0;
  }

  /**
   * fadvise64(2): the checks of Linux's generic_fadvise (EBADF, ESPIPE for a pipe or FIFO,
   * EINVAL for a negative length or unknown advice); the advice itself is a hint the host's page
   * cache does without, so it is accepted and not passed on.
   */
  static long fadvise64(Call c) {
    FileDescription d = c.fd(0);
    long len = c.a(2);
    int advice = c.i(3);
    if (!(d instanceof HostFileDescription h) || h.isFifo()) {
      throw new SyscallError(LinuxErrno.ESPIPE);
    }
    if (len < 0 || advice < 0 || advice > 5) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return 0;
  }

  private static long offset(long off) {
    if (off < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return off;
  }

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
    long deadline = d instanceof TimedSocket t ? t.timeouts().receiveDeadline() : 0;
    while (total < len) {
      long want = Math.min(Call.CHUNK, len - total);
      long n;
      if (offset >= 0) {
        n = d.pread(buf, want, offset + total);
      } else if (stream) {
        n = readStream(c, d, buf, want, total == 0, deadline);
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

  /**
   * One read of a pipe, terminal or socket; -1 if it would block and {@code mayBlock} is false.
   * A socket's SO_RCVTIMEO ({@code deadline}, 0 for none) bounds the wait: then EAGAIN.
   */
  private static long readStream(Call c, FileDescription d, MemorySegment buf, long want, boolean mayBlock,
      long deadline) {
    int pfd = d.pollFd();
    boolean hostNonBlocking = d instanceof HostFileDescription h && h.hostNonBlocking();
    while (true) {
      if (!hostNonBlocking && !d.nonBlocking()) {
        // A blocking host descriptor (inherited stdin): wait for data here, not in read(2).
        waitFor(c, pfd, POLLIN, 0);
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
        waitFor(c, pfd, POLLIN, deadline);
      }
    }
  }

  /**
   * Waits for {@code events} until {@code deadline} (0: none; then EAGAIN) or a signal
   * (ERESTARTSYS, or EINTR when a socket timeout was set, as Linux's sock_intr_errno).
   */
  private static void waitFor(Call c, int hostFd, short events, long deadline) {
    Blocker.Wait w = c.thread.blocker().await(hostFd, events, deadline, true);
    if (w == Blocker.Wait.SIGNAL) {
      throw new SyscallError(SocketMessages.interrupted(deadline));
    }
    if (w == Blocker.Wait.TIMEOUT) {
      throw new SyscallError(LinuxErrno.EAGAIN);
    }
  }

  /** A socket's SO_SNDTIMEO as a deadline for one write call; 0 for none or another file. */
  private static long sendDeadline(FileDescription d) {
    return d instanceof TimedSocket t ? t.timeouts().sendDeadline() : 0;
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
    len = FileSizeLimit.clamp(c, d, offset, Math.min(len, MAX_RW));
    MemorySegment buf = Call.buffer();
    long total = 0;
    long deadline = sendDeadline(d);
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
      long done = writeChunk(c, d, buf, want, offset < 0 ? -1 : offset + total, total, deadline);
      total += done;
      if (done < want) {
        break;
      }
    }
    return total;
  }

  /**
   * Writes one buffer; returns how much went (less than {@code len} only if interrupted, or when
   * a socket's SO_SNDTIMEO, {@code deadline}, passed after part of the call was written).
   */
  private static long writeChunk(Call c, FileDescription d, MemorySegment buf, long len, long offset, long before,
      long deadline) {
    if (offset >= 0) {
      return d.pwrite(buf, len, offset);
    }
    long done = 0;
    while (done < len) {
      try {
        long n = d.write(buf.asSlice(done), len - done);
        done += n;
        if (d instanceof EventFd) {
          // An eventfd write adds the first 8 bytes and returns 8, whatever the length.
          return done;
        }
      } catch (SyscallError e) {
        if (e.errno() == LinuxErrno.EPIPE) {
          c.thread.signals().post(Signals.SIGPIPE, SigInfo.user(Signals.SIGPIPE, c.process.pid(), c.process.uid()));
        }
        if (e.errno() == LinuxErrno.EAGAIN && !d.nonBlocking() && d.pollFd() >= 0) {
          Blocker.Wait w = c.thread.blocker().await(d.pollFd(), POLLOUT, deadline, true);
          if (w == Blocker.Wait.SIGNAL || w == Blocker.Wait.TIMEOUT) {
            if (before + done > 0) {
              return done;
            }
            throw new SyscallError(w == Blocker.Wait.TIMEOUT ? LinuxErrno.EAGAIN : SocketMessages.interrupted(deadline));
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
    total = FileSizeLimit.clamp(c, d, offset, Math.min(total, MAX_RW));
    // Gathered a chunk at a time: one host write per chunk keeps small writes atomic (a pipe's
    // PIPE_BUF), and the kernel never holds more than a chunk of a guest's iovecs.
    try (Arena a = Arena.ofConfined()) {
      MemorySegment buf = a.allocate(Math.max(1, Math.min(total, Call.CHUNK)), 8);
      int iov = 0;
      long inIov = 0;
      long done = 0;
      long deadline = sendDeadline(d);
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
        long n = writeChunk(c, d, buf, fill, offset < 0 ? -1 : offset + done, done, deadline);
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

  private static long sync(FileDescription d) {
    if (d instanceof HostFileDescription h && h.isRegular()) {
      int r = Host.fsync(h.hostFd());
      if (r < 0) {
        throw new SyscallError(-r);
      }
    }
    return 0;
  }
}
