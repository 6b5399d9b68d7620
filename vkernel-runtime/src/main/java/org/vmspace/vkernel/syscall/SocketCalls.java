package org.vmspace.vkernel.syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.HostInode;
import org.vmspace.vkernel.fs.Stat;
import org.vmspace.vkernel.fs.Vfs;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.net.SocketTimeout;
import org.vmspace.vkernel.net.TimedSocket;
import org.vmspace.vkernel.net.UnixNamespace;
import org.vmspace.vkernel.net.UnixSocket;
import org.vmspace.vkernel.proc.Blocker;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.PathBytes;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The AF_UNIX socket calls ({@link UnixSocket}; {@link SocketFamilies} sends AF_INET and
 * AF_INET6 to {@link InetCalls}, and here every other family is EAFNOSUPPORT), socket addresses
 * read from and written to the guest, names resolved in the guest's file system, and blocking emulated on the host
 * descriptor as for pipes: a signal ends a wait with ERESTARTSYS (restarted after an SA_RESTART
 * handler, EINTR otherwise). The message calls are in {@link SocketMessages}.
 */
final class SocketCalls {
  static final int AF_UNIX = 1;
  private static final int SOCK_NONBLOCK = 0x800;
  private static final int SOCK_CLOEXEC = 0x80000;
  private static final int EPROTONOSUPPORT = 93;
  private static final int SOCKADDR_UN_SIZE = 110;
  private static final int SOL_SOCKET = 1;
  private static final int SO_TYPE = 3;
  private static final int SO_ERROR = 4;
  private static final int SO_SNDBUF = 7;
  private static final int SO_RCVBUF = 8;
  private static final int SO_PASSCRED = 16;
  private static final int SO_PEERCRED = 17;
  private static final int SO_RCVTIMEO_OLD = 20;
  private static final int SO_SNDTIMEO_OLD = 21;
  private static final int SO_RCVTIMEO_NEW = 66;
  private static final int SO_SNDTIMEO_NEW = 67;
  private static final int SO_ACCEPTCONN = 30;
  private static final int SO_PROTOCOL = 38;
  private static final int SO_DOMAIN = 39;
  private static final int ENOPROTOOPT = 92;
  /** How often a blocking connect looks again at a listener whose backlog was full. */
  private static final long CONNECT_RETRY_NANOS = 10_000_000L;

  private SocketCalls() {}

  /** The AF_UNIX names of the caller's kernel. */
  static UnixNamespace namespace(Call c) {
    return c.kernel.unix();
  }

  static UnixSocket.Creds creds(Call c) {
    return new UnixSocket.Creds(c.process.pid(), c.process.uid(), c.process.gid());
  }

  static long socket(Call c) {
    int domain = c.i(0);
    int type = c.i(1);
    int kind = checkType(type);
    return switch (domain) {
      case AF_UNIX -> {
        if (c.i(2) != 0) {
          throw new SyscallError(EPROTONOSUPPORT);
        }
        UnixSocket s = UnixSocket.create(namespace(c), kind, (type & SOCK_NONBLOCK) != 0);
        yield c.fds().install(s, 0, (type & SOCK_CLOEXEC) != 0);
      }
      default -> throw new SyscallError(LinuxErrno.EAFNOSUPPORT, "address family " + domain + " is not supported (AF_UNIX, AF_INET, AF_INET6 are)");
    };
  }

  private static int checkType(int type) {
    int kind = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (kind != UnixSocket.SOCK_STREAM && kind != UnixSocket.SOCK_DGRAM && kind != UnixSocket.SOCK_SEQPACKET) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return kind;
  }

  /** socketpair(2) for AF_UNIX stream, datagram and seqpacket sockets. */
  static long socketpair(Call c) {
    int domain = c.i(0);
    int type = c.i(1);
    if (domain != AF_UNIX) {
      throw new SyscallError(LinuxErrno.EAFNOSUPPORT, "socket pairs are AF_UNIX only");
    }
    int kind = checkType(type);
    if (c.i(2) != 0) {
      throw new SyscallError(EPROTONOSUPPORT);
    }
    UnixSocket[] p = UnixSocket.pair(namespace(c), kind, (type & SOCK_NONBLOCK) != 0, creds(c));
    return PipeCalls.installPair(c, p[0], p[1], (type & SOCK_CLOEXEC) != 0, c.a(3));
  }

  /** The socket at argument 0: EBADF if closed, ENOTSOCK if not a socket. */
  static UnixSocket sock(Call c) {
    FileDescription d = c.fd(0);
    if (!(d instanceof UnixSocket s)) {
      throw new SyscallError(LinuxErrno.ENOTSOCK);
    }
    return s;
  }

  /**
   * A guest {@code sockaddr_un}: the bytes after {@code sun_family} as Linux keeps them (a path
   * cut at its first NUL, with one NUL after it; an abstract name whole), or an empty array for
   * the family alone (autobind).
   */
  static byte[] readAddress(Call c, long addr, long len) {
    if (len < 2 || len > SOCKADDR_UN_SIZE) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    byte[] raw = c.mem().readBytes(addr, (int) len);
    int family = (raw[0] & 0xff) | (raw[1] & 0xff) << 8;
    if (family != AF_UNIX) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (len == 2) {
      return new byte[0];
    }
    if (raw[2] == 0) {
      return java.util.Arrays.copyOfRange(raw, 2, raw.length);
    }
    int end = 2;
    while (end < raw.length && raw[end] != 0) {
      end++;
    }
    byte[] path = new byte[end - 2 + 1];
    System.arraycopy(raw, 2, path, 0, end - 2);
    return path;
  }

  /** Writes a guest address (null: unnamed) at {@code addr} as getsockname(2) does. */
  static void writeAddress(Call c, long addr, long lenAddr, byte[] name) {
    if (addr == 0 && lenAddr == 0) {
      return;
    }
    int have = c.mem().readInt(lenAddr);
    if (have < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    int n = name == null ? 0 : name.length;
    byte[] out = new byte[2 + n];
    out[0] = AF_UNIX;
    if (name != null) {
      System.arraycopy(name, 0, out, 2, n);
    }
    c.mem().writeBytes(addr, java.util.Arrays.copyOf(out, Math.min(have, out.length)));
    c.mem().writeInt(lenAddr, out.length);
  }

  private static boolean isPath(byte[] name) {
    return name.length > 0 && name[0] != 0;
  }

  private static String pathOf(byte[] name) {
    return PathBytes.of(name, 0, name.length - 1);
  }

  /**
   * The socket bound to a guest name: for a path, the socket file (symbolic links followed)
   * must exist (ENOENT) and be a socket someone in this kernel is bound to (ECONNREFUSED
   * otherwise, as for a file that is not a socket or a socket file nobody listens on).
   */
  static UnixSocket lookup(Call c, byte[] name) {
    UnixNamespace ns = namespace(c);
    if (name.length == 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (!isPath(name)) {
      UnixSocket s = ns.byAbstract(java.util.Arrays.copyOfRange(name, 1, name.length));
      if (s == null) {
        throw new SyscallError(LinuxErrno.ECONNREFUSED);
      }
      return s;
    }
    Vfs.Node n = c.kernel.vfs().resolve(pathOf(name), c.process.cwd(), true);
    if (!(n instanceof Vfs.HostNode h)) {
      throw new SyscallError(LinuxErrno.ECONNREFUSED);
    }
    int fd = c.kernel.vfs().openPath(h);
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      Host.fstat(fd, st);
      if ((Stat.mode(st) & 0170000) != 0140000) {
        throw new SyscallError(LinuxErrno.ECONNREFUSED);
      }
      UnixSocket s = ns.byPath(HostInode.of(st));
      if (s == null) {
        throw new SyscallError(LinuxErrno.ECONNREFUSED);
      }
      return s;
    } finally {
      Host.close(fd);
    }
  }

  /**
   * bind(2): a path makes the socket file (mode 0777 less the umask) in the guest's file system
   * (EADDRINUSE if the name exists, the file system's errors otherwise); an abstract name is the
   * kernel's own; the family alone autobinds.
   */
  static long bind(Call c) {
    UnixSocket s = sock(c);
    byte[] name = readAddress(c, c.a(1), c.a(2) & 0xffffffffL);
    if (name.length == 0) {
      s.autobind();
      return 0;
    }
    if (!isPath(name)) {
      s.bind(name, null);
      return 0;
    }
    if (s.name() != null) {
      throw new SyscallError(LinuxErrno.EINVAL, "already bound");
    }
    String path = pathOf(name);
    HostInode made;
    try (Vfs.Parent p = c.kernel.vfs().parent(path, c.process.cwd(), true, Vfs.Change.CREATE)) {
      long r = Host.mknodat(p.dirFd(), p.name(), 0140000 | (0777 & ~c.process.umask()), 0);
      if (r == -LinuxErrno.EEXIST) {
        throw new SyscallError(LinuxErrno.EADDRINUSE);
      }
      if (r < 0) {
        throw new SyscallError((int) -r);
      }
      try (Arena a = Arena.ofConfined()) {
        MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
        Host.fstatat(p.dirFd(), p.name(), st, Host.AT_SYMLINK_NOFOLLOW);
        made = HostInode.of(st);
      }
      try {
        s.bind(name, made);
      } catch (SyscallError e) {
        Host.unlinkat(p.dirFd(), p.name(), 0);
        throw e;
      }
    } catch (SyscallError e) {
      if (e.errno() == LinuxErrno.EEXIST) {
        throw new SyscallError(LinuxErrno.EADDRINUSE);
      }
      throw e;
    }
    return 0;
  }

  static long listen(Call c) {
    UnixSocket s = sock(c);
    int backlog = c.i(1);
    // Linux caps the backlog at somaxconn (4096) and treats a negative one as that.
    s.listen(backlog < 0 || backlog > 4096 ? 4096 : backlog, creds(c));
    return 0;
  }

  /** connect(2); a blocking connect to a listener whose backlog is full waits for room. */
  static long connect(Call c) {
    UnixSocket s = sock(c);
    byte[] name = readAddress(c, c.a(1), c.a(2) & 0xffffffffL);
    while (true) {
      UnixSocket target = lookup(c, name);
      try {
        s.connect(target, creds(c));
        return 0;
      } catch (SyscallError e) {
        if (e.errno() != LinuxErrno.EAGAIN || s.nonBlocking()) {
          throw e;
        }
      }
      if (c.thread.blocker().await(-1, (short) 0, System.nanoTime() + CONNECT_RETRY_NANOS, true) == Blocker.Wait.SIGNAL) {
        throw new SyscallError(LinuxErrno.ERESTARTSYS);
      }
    }
  }

  static long accept(Call c) {
    return accept(c, c.a(1), c.a(2), 0);
  }

  static long accept4(Call c) {
    int flags = c.i(3);
    if ((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return accept(c, c.a(1), c.a(2), flags);
  }

  private static long accept(Call c, long addr, long lenAddr, int flags) {
    UnixSocket s = sock(c);
    if (s.type() == UnixSocket.SOCK_DGRAM) {
      throw new SyscallError(LinuxErrno.EOPNOTSUPP);
    }
    // SO_RCVTIMEO bounds the wait (EAGAIN), and a signal then ends it with EINTR, as on Linux.
    long deadline = s.timeouts().receiveDeadline();
    while (true) {
      UnixSocket n;
      try {
        n = s.accept((flags & SOCK_NONBLOCK) != 0);
      } catch (SyscallError e) {
        if (e.errno() != LinuxErrno.EAGAIN || s.nonBlocking()) {
          throw e;
        }
        Blocker.Wait w = c.thread.blocker().await(s.pollFd(), Host.POLLIN, deadline, true);
        if (w == Blocker.Wait.TIMEOUT) {
          throw new SyscallError(LinuxErrno.EAGAIN);
        }
        if (w == Blocker.Wait.SIGNAL) {
          throw new SyscallError(SocketMessages.interrupted(deadline));
        }
        continue;
      }
      try {
        if (addr != 0) {
          writeAddress(c, addr, lenAddr, n.peerName());
        }
      } catch (SyscallError e) {
        n.release();
        throw e;
      }
      return c.fds().install(n, 0, (flags & SOCK_CLOEXEC) != 0);
    }
  }

  static long getsockname(Call c) {
    UnixSocket s = sock(c);
    writeAddress(c, c.a(1), c.a(2), s.name());
    return 0;
  }

  static long getpeername(Call c) {
    UnixSocket s = sock(c);
    writeAddress(c, c.a(1), c.a(2), s.peerName());
    return 0;
  }

  static long shutdown(Call c) {
    UnixSocket s = sock(c);
    int how = c.i(1);
    if (how < 0 || how > 2) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    int r = org.vmspace.vkernel.host.HostSockets.shutdown(s.hostFd(), how);
    if (r < 0) {
      throw new SyscallError(-r);
    }
    return 0;
  }

  /**
   * setsockopt(2) at SOL_SOCKET: SO_SNDBUF and SO_RCVBUF go to the host socket (Linux's
   * doubling and bounds are the host's), SO_PASSCRED, SO_RCVTIMEO and SO_SNDTIMEO are recorded
   * (see {@link SocketTimeout}); other options ENOPROTOOPT.
   */
  static long setsockopt(Call c) {
    UnixSocket s = sock(c);
    int level = c.i(1);
    int opt = c.i(2);
    long val = c.a(3);
    int len = c.i(4);
    if (level != SOL_SOCKET) {
      throw new SyscallError(ENOPROTOOPT);
    }
    if (len < 4) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    int v = c.mem().readInt(val);
    switch (opt) {
      case SO_SNDBUF, SO_RCVBUF -> {
        try (Arena a = Arena.ofConfined()) {
          MemorySegment m = a.allocate(4, 4);
          m.set(ValueLayout.JAVA_INT, 0, v);
          int r = org.vmspace.vkernel.host.HostSockets.setsockopt(s.hostFd(), SOL_SOCKET, opt, m, 4);
          if (r < 0) {
            throw new SyscallError(-r);
          }
        }
      }
      case SO_PASSCRED -> s.passCred(v != 0);
      case SO_RCVTIMEO_OLD, SO_RCVTIMEO_NEW, SO_SNDTIMEO_OLD, SO_SNDTIMEO_NEW -> setTimeout(c, s, opt, val, len);
      default -> throw new SyscallError(ENOPROTOOPT);
    }
    return 0;
  }

  /** Whether {@code opt} at SOL_SOCKET is SO_RCVTIMEO or SO_SNDTIMEO (old or new value layout). */
  static boolean isTimeout(int opt) {
    return opt == SO_RCVTIMEO_OLD || opt == SO_RCVTIMEO_NEW || opt == SO_SNDTIMEO_OLD || opt == SO_SNDTIMEO_NEW;
  }

  /**
   * setsockopt of a timeout ({@link #isTimeout}): a {@code struct timeval} (both layouts are 16
   * bytes on x86-64; EINVAL if shorter), EDOM for tv_usec out of range, kept in jiffies.
   */
  static void setTimeout(Call c, TimedSocket s, int opt, long val, int len) {
    if (len < 16) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    long jiffies = SocketTimeout.jiffies(c.mem().readLong(val), c.mem().readLong(val + 8));
    if (opt == SO_RCVTIMEO_OLD || opt == SO_RCVTIMEO_NEW) {
      s.timeouts().receive(jiffies);
    } else {
      s.timeouts().send(jiffies);
    }
  }

  /** getsockopt of a timeout ({@link #isTimeout}): the {@code struct timeval} as Linux rounds it. */
  static byte[] getTimeout(TimedSocket s, int opt) {
    long[] tv = SocketTimeout.timeval(opt == SO_RCVTIMEO_OLD || opt == SO_RCVTIMEO_NEW ? s.timeouts().receive() : s.timeouts().send());
    return java.nio.ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(tv[0]).putLong(tv[1]).array();
  }

  /**
   * getsockopt(2) at SOL_SOCKET: SO_PEERCRED from the kernel's records (guest pids), SO_PASSCRED
   * and the timeouts as set, SO_TYPE, SO_ERROR, SO_SNDBUF, SO_RCVBUF, SO_ACCEPTCONN, SO_DOMAIN and SO_PROTOCOL
   * from the host socket, which has the same values.
   */
  static long getsockopt(Call c) {
    UnixSocket s = sock(c);
    int level = c.i(1);
    int opt = c.i(2);
    long val = c.a(3);
    long lenAddr = c.a(4);
    if (level != SOL_SOCKET) {
      throw new SyscallError(ENOPROTOOPT);
    }
    int len = c.mem().readInt(lenAddr);
    if (len < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    byte[] out;
    switch (opt) {
      case SO_PEERCRED -> {
        UnixSocket.Creds cr = s.peerCreds();
        out = ints(cr.pid(), cr.uid(), cr.gid());
      }
      case SO_PASSCRED -> out = ints(s.passCred() ? 1 : 0);
      case SO_RCVTIMEO_OLD, SO_RCVTIMEO_NEW, SO_SNDTIMEO_OLD, SO_SNDTIMEO_NEW -> out = getTimeout(s, opt);
      case SO_TYPE, SO_ERROR, SO_SNDBUF, SO_RCVBUF, SO_ACCEPTCONN, SO_DOMAIN, SO_PROTOCOL -> {
        try (Arena a = Arena.ofConfined()) {
          MemorySegment m = a.allocate(4, 4);
          MemorySegment l = a.allocate(4, 4);
          l.set(ValueLayout.JAVA_INT, 0, 4);
          int r = org.vmspace.vkernel.host.HostSockets.getsockopt(s.hostFd(), SOL_SOCKET, opt, m, l);
          if (r < 0) {
            throw new SyscallError(-r);
          }
          out = ints(m.get(ValueLayout.JAVA_INT, 0));
        }
      }
      default -> throw new SyscallError(ENOPROTOOPT);
    }
    int n = Math.min(len, out.length);
    c.mem().writeBytes(val, java.util.Arrays.copyOf(out, n));
    c.mem().writeInt(lenAddr, n);
    return 0;
  }

  private static byte[] ints(int... v) {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * v.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (int x : v) {
      b.putInt(x);
    }
    return b.array();
  }
}
