package org.vmspace.vkernel.syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.host.HostSockets;
import org.vmspace.vkernel.net.InetSockAddr;
import org.vmspace.vkernel.net.InetSocket;
import org.vmspace.vkernel.proc.Blocker;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;
import org.vmspace.vkernel.syscall.SocketMessages.Iov;

/**
 * sendto, recvfrom, sendmsg and recvmsg on AF_INET and AF_INET6 sockets: the guest's iovecs are
 * gathered into (scattered from) one host buffer of at most {@link Call#CHUNK} bytes and the host
 * socket does the rest (TCP's streams, UDP's datagrams, MSG_PEEK, MSG_TRUNC, MSG_OOB, MSG_MORE,
 * EMSGSIZE, ECONNRESET, EPIPE). A destination passes the {@link
 * org.vmspace.vkernel.net.NetPolicy} first; a datagram from a sender the policy does not admit
 * is dropped unseen. Blocking is emulated as for pipes; EPIPE sends SIGPIPE unless MSG_NOSIGNAL.
 * No ancillary data is carried (a received message has none; MSG_ERRQUEUE finds the error queue
 * empty, as it is without IP_RECVERR, which is not passed through).
 */
final class InetMessages {
  private static final int MSG_OOB = 0x1;
  private static final int MSG_PEEK = 0x2;
  private static final int MSG_DONTROUTE = 0x4;
  private static final int MSG_TRUNC = 0x20;
  private static final int MSG_DONTWAIT = 0x40;
  private static final int MSG_EOR = 0x80;
  private static final int MSG_WAITALL = 0x100;
  private static final int MSG_CONFIRM = 0x800;
  private static final int MSG_ERRQUEUE = 0x2000;
  private static final int MSG_NOSIGNAL = 0x4000;
  private static final int MSG_MORE = 0x8000;
  private static final int MSG_FASTOPEN = 0x20000000;

  private InetMessages() {}

  static long sendto(Call c, InetSocket s) {
    long addr = c.a(4);
    byte[] sa = addr == 0 ? null : InetCalls.readAddress(c, addr, c.i(5));
    return send(c, s, new Iov[] {new Iov(c.a(1), c.a(2))}, c.i(3), sa);
  }

  static long recvfrom(Call c, InetSocket s) {
    return recv(c, s, new Iov[] {new Iov(c.a(1), c.a(2))}, c.i(3), c.a(4), c.a(5), 0);
  }

  static long sendmsg(Call c, InetSocket s) {
    ByteBuffer h = SocketMessages.header(c, c.a(1));
    long name = h.getLong(0);
    int nameLen = h.getInt(8);
    if (name != 0 && nameLen < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (h.getLong(40) != 0) {
      throw new SyscallError(LinuxErrno.EOPNOTSUPP, "ancillary data on IP sockets is not supported");
    }
    Iov[] v = SocketMessages.iovecs(c, h.getLong(16), h.getLong(24));
    // Linux cuts a longer msg_namelen to sizeof(sockaddr_storage) (copy_msghdr_from_user).
    byte[] sa = name == 0 ? null : InetCalls.readAddress(c, name, Math.min(nameLen, InetSockAddr.STORAGE));
    return send(c, s, v, c.i(2), sa);
  }

  static long recvmsg(Call c, InetSocket s) {
    long msg = c.a(1);
    ByteBuffer h = SocketMessages.header(c, msg);
    long name = h.getLong(0);
    if (name != 0 && h.getInt(8) < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    Iov[] v = SocketMessages.iovecs(c, h.getLong(16), h.getLong(24));
    return recv(c, s, v, c.i(2), name, name == 0 ? 0 : msg + 8, msg);
  }

  /**
   * Sends the iovecs: a stream all of it (a chunk per host send), a datagram in one host send
   * (EMSGSIZE over a chunk, which is past UDP's limit anyway). A stream ignores the address, as
   * TCP does without MSG_FASTOPEN (EOPNOTSUPP here, as where the host disables it).
   */
  private static long send(Call c, InetSocket s, Iov[] v, int flags, byte[] sa) {
    boolean stream = s.type() == InetSocket.SOCK_STREAM;
    if (stream) {
      if ((flags & MSG_FASTOPEN) != 0) {
        throw new SyscallError(LinuxErrno.EOPNOTSUPP, "MSG_FASTOPEN");
      }
      sa = null;
    } else if (sa != null) {
      s.policy().checkDestination(InetSockAddr.destination(sa, s.family(), s.type(), true));
      s.bindBeforeAutobind();
    }
    long total = SocketMessages.total(v);
    if (!stream && total > Call.CHUNK) {
      throw new SyscallError(LinuxErrno.EMSGSIZE);
    }
    boolean dontWait = s.nonBlocking() || (flags & MSG_DONTWAIT) != 0;
    int hostFlags = (flags & (MSG_OOB | MSG_DONTROUTE | MSG_EOR | MSG_CONFIRM | MSG_MORE)) | MSG_DONTWAIT | MSG_NOSIGNAL;
    byte[] dest = sa;
    return SocketMessages.sendChunks(c, v, total, stream, dontWait, s.timeouts().sendDeadline(), flags, s.pollFd(),
        data -> hostSend(s, data, dest, hostFlags));
  }

  private static long hostSend(InetSocket s, MemorySegment data, byte[] sa, int flags) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment msg = a.allocate(HostSockets.MSGHDR_SIZE, 8);
      MemorySegment name = sa == null ? MemorySegment.NULL
          : a.allocateFrom(ValueLayout.JAVA_BYTE, sa.length == 0 ? new byte[1] : sa);
      HostSockets.fillMsghdr(msg, name, sa == null ? 0 : sa.length, HostSockets.iovec(a, data), MemorySegment.NULL, 0);
      return HostSockets.sendmsg(s.hostFd(), msg, flags);
    }
  }

  /**
   * Receives one host read into the iovecs (MSG_WAITALL on a stream repeats until full, EOF, a
   * signal or SO_RCVTIMEO) and writes the sender's address and, for recvmsg, msg_flags and msg_controllen.
   */
  private static long recv(Call c, InetSocket s, Iov[] v, int flags, long nameAddr, long nameLenAddr, long msg) {
    if ((flags & MSG_ERRQUEUE) != 0) {
      throw new SyscallError(LinuxErrno.EAGAIN);
    }
    long total = Math.min(SocketMessages.total(v), Call.CHUNK);
    boolean dontWait = s.nonBlocking() || (flags & MSG_DONTWAIT) != 0;
    boolean stream = s.type() == InetSocket.SOCK_STREAM;
    int hostFlags = (flags & (MSG_PEEK | MSG_TRUNC | MSG_OOB)) | MSG_DONTWAIT;
    long deadline = s.timeouts().receiveDeadline();
    MemorySegment buf = Call.buffer();
    long got = 0;
    try (Arena a = Arena.ofConfined()) {
      MemorySegment m = a.allocate(HostSockets.MSGHDR_SIZE, 8);
      MemorySegment iov = a.allocate(16, 8);
      MemorySegment name = a.allocate(InetSockAddr.STORAGE, 8);
      while (true) {
        iov.set(ValueLayout.JAVA_LONG, 0, buf.address() + got);
        iov.set(ValueLayout.JAVA_LONG, 8, total - got);
        HostSockets.fillMsghdr(m, name, InetSockAddr.STORAGE, iov, MemorySegment.NULL, 0);
        long n = HostSockets.recvmsg(s.hostFd(), m, hostFlags);
        if (n >= 0) {
          byte[] from = name.asSlice(0, Math.min(InetSockAddr.STORAGE, m.get(ValueLayout.JAVA_INT, 8)))
              .toArray(ValueLayout.JAVA_BYTE);
          if (!stream && !s.policy().admits(InetSockAddr.peerAddress(from))) {
            if ((hostFlags & MSG_PEEK) != 0) {
              discardDatagram(s);
            }
            continue;
          }
          int outFlags = m.get(ValueLayout.JAVA_INT, 48);
          // MSG_TRUNC asks for a datagram's real length, which may exceed what was stored.
          long stored = Math.min(n, total - got);
          got += stored;
          long reported = n - stored;
          if (stream && (flags & MSG_WAITALL) != 0 && n > 0 && got < total && (flags & MSG_PEEK) == 0) {
            continue;
          }
          SocketMessages.scatter(c, v, buf, got);
          if (msg != 0) {
            c.mem().writeLong(msg + 40, 0);
            c.mem().writeInt(msg + 48, outFlags);
          }
          if (nameAddr != 0) {
            InetCalls.writeAddress(c, nameAddr, nameLenAddr, from);
          }
          return got + reported;
        }
        int errno = (int) -n;
        if (errno == LinuxErrno.EAGAIN && !dontWait) {
          Blocker.Wait w = c.thread.blocker().await(s.pollFd(), Host.POLLIN, deadline, true);
          if (w == Blocker.Wait.SIGNAL || w == Blocker.Wait.TIMEOUT) {
            if (got > 0) {
              SocketMessages.scatter(c, v, buf, got);
              return got;
            }
            throw new SyscallError(w == Blocker.Wait.TIMEOUT ? LinuxErrno.EAGAIN : SocketMessages.interrupted(deadline));
          }
          continue;
        }
        if (got > 0) {
          SocketMessages.scatter(c, v, buf, got);
          return got;
        }
        throw new SyscallError(errno);
      }
    }
  }

  /** Takes the datagram at the head of the queue away (one the policy dropped after a peek). */
  private static void discardDatagram(InetSocket s) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment m = a.allocate(HostSockets.MSGHDR_SIZE, 8);
      HostSockets.recvmsg(s.hostFd(), m, MSG_DONTWAIT);
    }
  }
}
