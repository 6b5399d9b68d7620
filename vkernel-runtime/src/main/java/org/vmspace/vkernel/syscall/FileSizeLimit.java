package org.vmspace.vkernel.syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.proc.Limits;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * RLIMIT_FSIZE for write, pwrite, writev, truncate and ftruncate, as Linux's
 * generic_write_check_limits and inode_newsize_ok apply it: only regular files are limited; a
 * write starting at or past the limit raises SIGXFSZ at the calling thread and fails with EFBIG,
 * one that crosses it is cut short at the limit.
 */
final class FileSizeLimit {
  /** struct stat's st_size (x86-64). */
  private static final long ST_SIZE = 48;

  private FileSizeLimit() {}

  /**
   * How many of {@code len} bytes a write to {@code d} at {@code offset} (-1 for the file
   * position, or the end with O_APPEND) may write.
   *
   * @throws SyscallError EFBIG (after SIGXFSZ) when nothing may be written
   */
  static long clamp(Call c, FileDescription d, long offset, long len) {
    long limit = c.process.softLimit(Limits.RLIMIT_FSIZE);
    if (len == 0 || limit == Limits.INFINITY || !(d instanceof HostFileDescription h) || !h.isRegular()) {
      return len;
    }
    long pos = offset >= 0 ? offset
        : (d.statusFlags() & Host.O_APPEND) != 0 ? size(h) : d.lseek(0, 1); // SEEK_CUR
    long allowed = Limits.writeAllowance(pos, len, limit);
    if (allowed == 0) {
      exceeded(c);
    }
    return allowed;
  }

  /**
   * Checks a truncate to {@code length} of a regular file.
   *
   * @throws SyscallError EFBIG (after SIGXFSZ) when {@code length} is past RLIMIT_FSIZE
   */
  static void checkLength(Call c, long length) {
    if (Limits.exceeds(length, c.process.softLimit(Limits.RLIMIT_FSIZE))) {
      exceeded(c);
    }
  }

  private static void exceeded(Call c) {
    c.thread.signals().post(Signals.SIGXFSZ, SigInfo.user(Signals.SIGXFSZ, c.process.pid(), c.process.uid()));
    throw new SyscallError(LinuxErrno.EFBIG, "RLIMIT_FSIZE");
  }

  private static long size(HostFileDescription h) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      int r = Host.fstat(h.hostFd(), st);
      if (r < 0) {
        throw new SyscallError(-r);
      }
      return st.get(ValueLayout.JAVA_LONG, ST_SIZE);
    }
  }
}
