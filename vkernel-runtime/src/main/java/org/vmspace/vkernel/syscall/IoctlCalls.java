package org.vmspace.vkernel.syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.proc.Sessions;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * ioctl: close-on-exec and non-blocking for every descriptor, the terminal requests (termios,
 * window size, foreground process group, session) passed to the description, FIONREAD.
 */
final class IoctlCalls {
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

  private IoctlCalls() {}

  static long ioctl(Call c) {
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
}
