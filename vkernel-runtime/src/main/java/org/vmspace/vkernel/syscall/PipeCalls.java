package org.vmspace.vkernel.syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.vkernel.fs.FileDescription;
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
    return installPair(c, r, w, (flags & Host.O_CLOEXEC) != 0, addr);
  }

  /**
   * Installs two new descriptions as the lowest free descriptors and writes them to the int[2]
   * at {@code addr}; on any failure neither stays installed (nor open). For pipe and socketpair.
   */
  static long installPair(Call c, FileDescription first, FileDescription second, boolean cloexec, long addr) {
    int fd0;
    try {
      fd0 = c.fds().install(first, 0, cloexec);
    } catch (SyscallError e) {
      second.release();
      throw e;
    }
    int fd1;
    try {
      fd1 = c.fds().install(second, 0, cloexec);
    } catch (SyscallError e) {
      c.fds().close(fd0);
      throw e;
    }
    try (Arena a = Arena.ofConfined()) {
      MemorySegment out = a.allocate(8, 4);
      out.set(ValueLayout.JAVA_INT, 0, fd0);
      out.set(ValueLayout.JAVA_INT, 4, fd1);
      c.mem().write(addr, out, 0, 8);
    } catch (SyscallError e) {
      c.fds().close(fd0);
      c.fds().close(fd1);
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
