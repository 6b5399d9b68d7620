package org.vmspace.vkernel.net;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.fs.HostInode;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.host.HostSockets;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * A guest AF_UNIX socket: a host socket of the same type (non-blocking on the host, so reads,
 * writes, poll and epoll are the host's own and Linux's exactly) plus what the host cannot know:
 * the guest's names of this socket and its peer, and the peer's credentials as guest ids.
 *
 * <p>A socket the guest binds gets an automatic (abstract, unguessable) host name; connecting to
 * a guest name looks the socket up in the kernel's {@link UnixNamespace} and connects the host
 * sockets by that host name, so the host's accept queue, backlog and readiness apply as they are.
 * Connections to a listener are matched with their connectors' credentials in connect order
 * (the host's accept queue is first in, first out; both sides take the listener's lock).
 *
 * <p>Guest names are byte arrays as {@code getsockname} reports them after {@code sun_family}:
 * a path with its terminating NUL, or an abstract name with its leading NUL.
 */
public final class UnixSocket extends HostFileDescription implements TimedSocket {
  public static final int SOCK_STREAM = 1;
  public static final int SOCK_DGRAM = 2;
  public static final int SOCK_SEQPACKET = 5;
  private static final int SOCK_NONBLOCK = 0x800;
  private static final int SOCK_CLOEXEC = 0x80000;
  private static final int AF_UNIX = 1;
  private static final int SOL_SOCKET = 1;
  private static final int SO_PEERCRED = 17;
  private static final long MY_PID = ProcessHandle.current().pid();

  /** Credentials as the guest sees them (SO_PEERCRED). */
  public record Creds(int pid, int uid, int gid) {
    /** What Linux reports for a socket without a peer. */
    public static final Creds NONE = new Creds(0, -1, -1);
  }

  private record Pending(Creds creds, byte[] name) {}

  private final UnixNamespace ns;
  private final int type;
  private final ArrayDeque<Pending> pending = new ArrayDeque<>();
  private byte[] name;
  private byte[] peerName;
  private boolean connected;
  private boolean listening;
  private Creds peerCreds = Creds.NONE;
  private Creds listenCreds = Creds.NONE;
  private byte[] hostName;
  private volatile boolean passCred;
  private final SocketTimeouts timeouts = new SocketTimeouts();

  private UnixSocket(UnixNamespace ns, int fd, int type, int statusFlags) {
    super(fd, "socket:[" + inodeOf(fd) + "]", statusFlags, true, true);
    this.ns = ns;
    this.type = type;
  }

  static long inodeOf(int fd) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      Host.fstat(fd, st);
      return st.get(ValueLayout.JAVA_LONG, 8);
    }
  }

  private static void check(long r) {
    if (r < 0) {
      throw new SyscallError((int) -r);
    }
  }

  /**
   * socket(AF_UNIX, type, 0).
   *
   * @param type SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET (flags already removed)
   * @param nonBlocking whether the guest asked for SOCK_NONBLOCK
   * @throws SyscallError the host's errno (EMFILE, ENFILE, ENOMEM)
   */
  public static UnixSocket create(UnixNamespace ns, int type, boolean nonBlocking) {
    int fd = HostSockets.socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    check(fd);
    return new UnixSocket(ns, fd, type, Host.O_RDWR | (nonBlocking ? Host.O_NONBLOCK : 0));
  }

  /**
   * socketpair(AF_UNIX, type, 0): two connected sockets, each with the other's credentials.
   *
   * @throws SyscallError the host's errno
   */
  public static UnixSocket[] pair(UnixNamespace ns, int type, boolean nonBlocking, Creds creds) {
    int[] fds = Host.socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    check(fds[0]);
    int flags = Host.O_RDWR | (nonBlocking ? Host.O_NONBLOCK : 0);
    UnixSocket a = new UnixSocket(ns, fds[0], type, flags);
    UnixSocket b = new UnixSocket(ns, fds[1], type, flags);
    for (UnixSocket s : new UnixSocket[] {a, b}) {
      s.connected = true;
      s.peerCreds = creds;
    }
    return new UnixSocket[] {a, b};
  }

  /** SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET. */
  public int type() {
    return type;
  }

  /** The guest name it is bound to (see the class comment), or null. */
  public synchronized byte[] name() {
    return name;
  }

  /** The guest name of the peer (null if the peer is unnamed). @throws SyscallError ENOTCONN */
  public synchronized byte[] peerName() {
    if (!connected) {
      throw new SyscallError(LinuxErrno.ENOTCONN);
    }
    return peerName;
  }

  /** SO_PEERCRED: the peer's credentials at connect (or listen, or socketpair) time. */
  public synchronized Creds peerCreds() {
    return peerCreds;
  }

  /** SO_PASSCRED as set; credentials are not delivered as ancillary data (SCM_CREDENTIALS). */
  public boolean passCred() {
    return passCred;
  }

  public void passCred(boolean on) {
    passCred = on;
  }

  @Override
  public SocketTimeouts timeouts() {
    return timeouts;
  }

  /**
   * bind(2) to a guest name. For a path, {@code made} is the socket file the caller has just
   * created in the guest's file system; for an abstract name it is null.
   *
   * @throws SyscallError EINVAL if already bound, EADDRINUSE if the abstract name is taken
   */
  public synchronized void bind(byte[] guestName, HostInode made) {
    if (name != null) {
      throw new SyscallError(LinuxErrno.EINVAL, "already bound");
    }
    if (made == null) {
      ns.addAbstract(java.util.Arrays.copyOfRange(guestName, 1, guestName.length), this);
    }
    try {
      hostAutobind();
    } catch (SyscallError e) {
      ns.remove(this);
      throw e;
    }
    if (made != null) {
      ns.addPath(made, this);
    }
    name = guestName.clone();
  }

  /** bind(2) with only the family: an abstract name of five hex digits (Linux's autobind). */
  public synchronized void autobind() {
    if (name != null) {
      throw new SyscallError(LinuxErrno.EINVAL, "already bound");
    }
    while (true) {
      byte[] n = ns.autoName();
      byte[] guest = new byte[n.length + 1];
      System.arraycopy(n, 0, guest, 1, n.length);
      try {
        bind(guest, null);
        return;
      } catch (SyscallError e) {
        if (e.errno() != LinuxErrno.EADDRINUSE) {
          throw e;
        }
      }
    }
  }

  /** The host side of a bind: an automatic abstract host name, recorded in the namespace. */
  private void hostAutobind() {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment addr = a.allocate(110, 8);
      addr.set(ValueLayout.JAVA_SHORT, 0, (short) AF_UNIX);
      check(HostSockets.bind(hostFd(), addr, 2));
      MemorySegment len = a.allocate(4, 4);
      len.set(ValueLayout.JAVA_INT, 0, 110);
      check(HostSockets.getsockname(hostFd(), addr, len));
      int n = len.get(ValueLayout.JAVA_INT, 0) - 2;
      hostName = addr.asSlice(2, n).toArray(ValueLayout.JAVA_BYTE);
      ns.addHostName(hostName, this);
    }
  }

  /**
   * listen(2). An unbound socket is bound to an automatic name first, as on Linux.
   *
   * @throws SyscallError EOPNOTSUPP for a datagram socket, EINVAL if connected
   */
  public void listen(int backlog, Creds creds) {
    if (type == SOCK_DGRAM) {
      throw new SyscallError(LinuxErrno.EOPNOTSUPP);
    }
    synchronized (this) {
      if (connected) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
    }
    if (name() == null) {
      autobind();
    }
    synchronized (this) {
      check(HostSockets.listen(hostFd(), backlog));
      listening = true;
      listenCreds = creds;
    }
  }

  /**
   * connect(2) to {@code target} (the socket bound to the guest name the caller resolved). A
   * stream or seqpacket connect to a listener queues a connection; a datagram connect sets the
   * default destination.
   *
   * @throws SyscallError ECONNREFUSED if the target is not listening (or is gone), EPROTOTYPE
   *     if its type differs, EISCONN if connected, EAGAIN if the listener's backlog is full
   */
  public void connect(UnixSocket target, Creds creds) {
    if (target == null) {
      throw new SyscallError(LinuxErrno.ECONNREFUSED);
    }
    if (target.type != type) {
      throw new SyscallError(LinuxErrno.EPROTOTYPE);
    }
    if (type == SOCK_DGRAM) {
      synchronized (target) {
        connectHost(target.hostName);
      }
      synchronized (this) {
        connected = true;
        peerName = target.name;
        // Linux records no credentials for a datagram connect: (0, -1, -1).
        peerCreds = Creds.NONE;
      }
      return;
    }
    synchronized (this) {
      if (connected) {
        throw new SyscallError(LinuxErrno.EISCONN);
      }
      if (listening) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
    }
    synchronized (target) {
      if (!target.listening) {
        throw new SyscallError(LinuxErrno.ECONNREFUSED);
      }
      connectHost(target.hostName);
      target.pending.add(new Pending(creds, name()));
      synchronized (this) {
        connected = true;
        peerName = target.name;
        peerCreds = target.listenCreds;
      }
    }
  }

  private void connectHost(byte[] host) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment addr = a.allocate(2 + host.length, 8);
      addr.set(ValueLayout.JAVA_SHORT, 0, (short) AF_UNIX);
      MemorySegment.copy(host, 0, addr, ValueLayout.JAVA_BYTE, 2, host.length);
      check(HostSockets.connect(hostFd(), addr, 2 + host.length));
    }
  }

  /**
   * accept(2): the next connection, or EAGAIN. Host processes that found the listener's host
   * name and connected are turned away (closed), so only the kernel's own connections count.
   *
   * @throws SyscallError EINVAL if not listening, EAGAIN if none is waiting
   */
  public synchronized UnixSocket accept(boolean nonBlocking) {
    if (!listening) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    while (true) {
      int fd = HostSockets.accept4(hostFd(), SOCK_NONBLOCK | SOCK_CLOEXEC);
      check(fd);
      if (hostPeerPid(fd) != MY_PID) {
        Host.close(fd);
        continue;
      }
      Pending p = pending.poll();
      UnixSocket s = new UnixSocket(ns, fd, type, Host.O_RDWR | (nonBlocking ? Host.O_NONBLOCK : 0));
      s.connected = true;
      s.name = name;
      s.peerName = p == null ? null : p.name();
      s.peerCreds = p == null ? Creds.NONE : p.creds();
      return s;
    }
  }

  private static long hostPeerPid(int fd) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment v = a.allocate(12, 4);
      MemorySegment len = a.allocate(4, 4);
      len.set(ValueLayout.JAVA_INT, 0, 12);
      if (HostSockets.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, v, len) < 0) {
        return -1;
      }
      return v.get(ValueLayout.JAVA_INT, 0);
    }
  }

  /** The host name of a datagram's destination socket. */
  public byte[] hostName() {
    synchronized (this) {
      return hostName;
    }
  }

  /** The guest name of the socket whose host name a datagram came from (null: unnamed). */
  public byte[] guestNameOfHost(byte[] host) {
    if (host.length == 0) {
      return null;
    }
    UnixSocket s = ns.byHostName(host);
    return s == null ? null : s.name();
  }

  /** The kernel's names. */
  public UnixNamespace namespace() {
    return ns;
  }

  /**
   * read(2): the host's, which discards a message's control data; a token it carried is closed
   * by the host then, so the descriptions it stood for are released now (see {@link InFlight}).
   */
  @Override
  public long read(MemorySegment buf, long len) {
    try {
      return super.read(buf, len);
    } finally {
      ns.inFlight().sweep();
    }
  }

  /**
   * Closing the host socket drops the messages queued on it, tokens included: their
   * descriptions are released (see {@link InFlight}).
   */
  @Override
  protected void close() {
    ns.remove(this);
    super.close();
    ns.inFlight().sweep();
  }
}
