package org.vmspace.vkernel.syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * pipe and pipe2: a host pipe, non-blocking on the host (blocking is emulated by
 * {@link ReadWriteCalls}), whose two ends are named {@code pipe:[inode]} as on Linux.
 */
final class PipeCalls {
  private PipeCalls() {}

  static long pipe(Call c) {
    return pipe(c, c.a(0), 0);
  }

  static long pipe2(Call c) {
    return pipe(c, c.a(0), c.i(1));
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
}
