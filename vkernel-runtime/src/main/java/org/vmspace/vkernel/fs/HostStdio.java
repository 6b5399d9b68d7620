package org.vmspace.vkernel.fs;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.PathBytes;

/**
 * The guest's descriptors 0, 1 and 2 made from the JVM's. Pipes and terminals are reopened
 * through {@code /proc/self/fd} as new non-blocking descriptions, so that blocking reads and
 * writes can be emulated with poll (and interrupted by signals) without changing the mode of
 * the caller's own description; other files (regular files, sockets) are duplicated, sharing
 * their offset with the caller as a child process would.
 */
public final class HostStdio {
  private static final int F_GETFL = 3;
  private static final int F_SETFD = 2;

  private HostStdio() {}

  /** A description for the JVM's descriptor {@code fd}, or null if it is closed. */
  public static FileDescription open(int fd) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      if (Host.fstat(fd, st) < 0) {
        return null;
      }
      int flags = Host.fcntl(fd, F_GETFL, 0);
      if (flags < 0) {
        return null;
      }
      int access = flags & Host.O_ACCMODE;
      byte[] self = ("/proc/self/fd/" + fd).getBytes(StandardCharsets.US_ASCII);
      String path = "/dev/fd/" + fd;
      MemorySegment buf = a.allocate(4096);
      long n = Host.readlinkat(Host.AT_FDCWD, self, buf, 4096);
      if (n > 0) {
        path = PathBytes.of(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE));
      }
      int type = Stat.mode(st) & 0170000;
      if (type == Stat.S_IFIFO || type == Stat.S_IFCHR) {
        int reopened = Host.openat2(Host.AT_FDCWD, self, access | Host.O_NONBLOCK | Host.O_CLOEXEC | Host.O_NOCTTY, 0, 0);
        if (reopened >= 0) {
          return new HostFileDescription(reopened, path, access | (flags & Host.O_APPEND), true, false);
        }
      }
      int dup = Host.dup(fd);
      if (dup < 0) {
        return null;
      }
      Host.fcntl(dup, F_SETFD, 1);
      return new HostFileDescription(dup, path, access | (flags & Host.O_APPEND), false, false);
    }
  }
}
