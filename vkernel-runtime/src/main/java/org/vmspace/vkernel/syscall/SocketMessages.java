package org.vmspace.vkernel.syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.host.HostSockets;
import org.vmspace.vkernel.net.InFlight;
import org.vmspace.vkernel.net.UnixSocket;
import org.vmspace.vkernel.proc.Blocker;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * sendto, recvfrom, sendmsg and recvmsg on AF_UNIX sockets: the guest's iovecs are gathered into
 * (scattered from) one host buffer of at most {@link Call#CHUNK} bytes, the host socket does the
 * rest (MSG_PEEK, MSG_TRUNC, MSG_WAITALL semantics per message, EOF, ECONNRESET, EPIPE), and
 * names are translated between the guest's and the host's. Blocking is emulated as for pipes,
 * within SO_SNDTIMEO/SO_RCVTIMEO when set (EAGAIN when they pass with nothing done; a signal then
 * ends the call with EINTR instead of restarting it, as Linux's sock_intr_errno); EPIPE sends
 * SIGPIPE unless MSG_NOSIGNAL. Descriptors passed with SCM_RIGHTS ride on the host message as an
 * {@link org.vmspace.vkernel.net.InFlight} token ({@link SocketControl}); SCM_CREDENTIALS is
 * refused with EOPNOTSUPP and never delivered.
 */
final class SocketMessages {
  private static final int MSG_PEEK = 0x2;
  private static final int MSG_TRUNC = 0x20;
  private static final int MSG_DONTWAIT = 0x40;
  private static final int MSG_EOR = 0x80;
  private static final int MSG_WAITALL = 0x100;
  private static final int MSG_NOSIGNAL = 0x4000;
  private static final int MSG_CMSG_CLOEXEC = 0x40000000;
  private static final int IOV_MAX = 1024;

  private SocketMessages() {}

  record Iov(long base, long len) {}

  static long sendto(Call c) {
    return send(c, sock(c), new Iov[] {new Iov(c.a(1), c.a(2))}, c.i(3), c.a(4), c.a(5) & 0xffffffffL, null);
  }

  static long recvfrom(Call c) {
    return recv(c, sock(c), new Iov[] {new Iov(c.a(1), c.a(2))}, c.i(3), c.a(4), c.a(5), 0, 0, 0);
  }

  static long sendmsg(Call c) {
    UnixSocket s = sock(c);
    ByteBuffer h = header(c, c.a(1));
    Iov[] v = iovecs(c, h.getLong(16), h.getLong(24));
    InFlight.Token rights = SocketControl.rightsToSend(c, s, h.getLong(32), h.getLong(40));
    try {
      return send(c, s, v, c.i(2), h.getLong(0), h.getInt(8) & 0xffffffffL, rights);
    } finally {
      if (rights != null) {
        s.namespace().inFlight().finish(rights);
      }
    }
  }

  static long recvmsg(Call c) {
    UnixSocket s = sock(c);
    long msg = c.a(1);
    ByteBuffer h = header(c, msg);
    Iov[] v = iovecs(c, h.getLong(16), h.getLong(24));
    long name = h.getLong(0);
    if (name != 0) {
      // recvmsg's msg_namelen is an in-out field in the header itself.
      c.mem().writeInt(msg + 8, h.getInt(8));
    }
    return recv(c, s, v, c.i(2), name, name == 0 ? 0 : msg + 8, msg, h.getLong(32), h.getLong(40));
  }

  private static UnixSocket sock(Call c) {
    return SocketCalls.sock(c);
  }

  /** struct msghdr (56 bytes on x86-64). */
  static ByteBuffer header(Call c, long addr) {
    return ByteBuffer.wrap(c.mem().readBytes(addr, 56)).order(ByteOrder.LITTLE_ENDIAN);
  }

  static Iov[] iovecs(Call c, long addr, long count) {
    if (count < 0 || count > IOV_MAX) {
      throw new SyscallError(LinuxErrno.EMSGSIZE);
    }
    Iov[] v = new Iov[(int) count];
    if (count == 0) {
      return v;
    }
    ByteBuffer b = ByteBuffer.wrap(c.mem().readBytes(addr, 16 * (int) count)).order(ByteOrder.LITTLE_ENDIAN);
    long total = 0;
    for (int i = 0; i < count; i++) {
      v[i] = new Iov(b.getLong(16 * i), b.getLong(16 * i + 8));
      if (v[i].len() < 0 || (total += v[i].len()) < 0) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
    }
    return v;
  }

  static long total(Iov[] v) {
    long t = 0;
    for (Iov i : v) {
      t = Math.addExact(t, i.len());
    }
    return t;
  }

  /**
   * Sends the iovecs: a stream all of it (a chunk per host send), a datagram or seqpacket
   * record in one host send (EMSGSIZE over a chunk).
   */
  private static long send(Call c, UnixSocket s, Iov[] v, int flags, long nameAddr, long nameLen, InFlight.Token rights) {
    byte[] dest = nameAddr != 0 && s.type() == UnixSocket.SOCK_DGRAM
        ? SocketCalls.lookup(c, SocketCalls.readAddress(c, nameAddr, nameLen)).hostName() : null;
    if (nameAddr != 0 && s.type() == UnixSocket.SOCK_STREAM) {
      // Linux: a stream socket ignores the address when connected, and is EOPNOTSUPP otherwise.
      try {
        s.peerName();
      } catch (SyscallError e) {
        throw new SyscallError(LinuxErrno.EOPNOTSUPP);
      }
    }
    long total = total(v);
    boolean stream = s.type() == UnixSocket.SOCK_STREAM;
    if (!stream && total > Call.CHUNK) {
      throw new SyscallError(LinuxErrno.EMSGSIZE);
    }
    boolean dontWait = s.nonBlocking() || (flags & MSG_DONTWAIT) != 0;
    long deadline = s.timeouts().sendDeadline();
    int hostFlags = (flags & MSG_EOR) | MSG_DONTWAIT | MSG_NOSIGNAL;
    HostSend chunk = data -> {
      // The descriptors go with the first host message (Linux attaches them to the first skb);
      // an empty stream write sends nothing, and they are dropped with it, as on Linux.
      int token = rights != null && !rights.wasSent() ? rights.hostFd() : -1;
      long n = hostSend(s, data, dest, hostFlags, token);
      if (n >= 0 && token >= 0 && (n > 0 || !stream)) {
        rights.sent();
      }
      return n;
    };
    return sendChunks(c, v, total, stream, dontWait, deadline, flags, s.pollFd(), chunk);
  }

  /** One host send of {@code data}: the bytes the host took, or -errno. */
  @FunctionalInterface
  interface HostSend {
    long send(MemorySegment data);
  }

  /**
   * The send loop every socket family shares: the iovecs are gathered a chunk at a time into the
   * call's buffer and each chunk goes to {@code hostSend}, whole (a stream, over as many host
   * sends as it takes) or in one send (a datagram or record). Where the host has no room the
   * thread waits on {@code pollFd} for POLLOUT unless {@code dontWait}: until {@code deadline}
   * (a nanoTime, 0 for none: then EAGAIN), or a signal (ERESTARTSYS without a deadline, EINTR
   * with one, as Linux's sock_intr_errno). EPIPE posts SIGPIPE unless MSG_NOSIGNAL. Once some
   * bytes went, an error or an interrupted wait returns their count instead.
   */
  static long sendChunks(Call c, Iov[] v, long total, boolean stream, boolean dontWait, long deadline, int flags,
      int pollFd, HostSend hostSend) {
    MemorySegment buf = Call.buffer();
    long done = 0;
    int iov = 0;
    long inIov = 0;
    do {
      long want = Math.min(Call.CHUNK, total - done);
      long fill = 0;
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
      long sent = 0;
      while (sent < fill || fill == 0) {
        long n = hostSend.send(buf.asSlice(sent, fill - sent));
        if (n >= 0) {
          sent += n;
          if (fill == 0 || !stream) {
            break;
          }
          continue;
        }
        int errno = (int) -n;
        if (errno == LinuxErrno.EAGAIN && !dontWait) {
          Blocker.Wait w = c.thread.blocker().await(pollFd, Host.POLLOUT, deadline, true);
          if (w == Blocker.Wait.SIGNAL || w == Blocker.Wait.TIMEOUT) {
            if (done + sent > 0) {
              return done + sent;
            }
            throw new SyscallError(w == Blocker.Wait.TIMEOUT ? LinuxErrno.EAGAIN : interrupted(deadline));
          }
          continue;
        }
        if (errno == LinuxErrno.EPIPE && (flags & MSG_NOSIGNAL) == 0) {
          c.thread.signals().post(Signals.SIGPIPE, SigInfo.user(Signals.SIGPIPE, c.process.pid(), c.process.uid()));
        }
        if (done + sent > 0) {
          return done + sent;
        }
        throw new SyscallError(errno);
      }
      done += sent;
    } while (done < total);
    return done;
  }

  /** Linux's sock_intr_errno: a wait without a timeout is restarted, one with a timeout is EINTR. */
  static int interrupted(long deadline) {
    return deadline == 0 ? LinuxErrno.ERESTARTSYS : LinuxErrno.EINTR;
  }

  /** One host sendmsg; {@code token} (if not -1) goes in an SCM_RIGHTS control message. */
  private static long hostSend(UnixSocket s, MemorySegment data, byte[] dest, int flags, int token) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment msg = a.allocate(HostSockets.MSGHDR_SIZE, 8);
      MemorySegment control = MemorySegment.NULL;
      if (token >= 0) {
        control = a.allocate(24, 8);
        control.set(ValueLayout.JAVA_LONG, 0, 20); // CMSG_LEN(sizeof(int))
        control.set(ValueLayout.JAVA_INT, 8, 1); // SOL_SOCKET
        control.set(ValueLayout.JAVA_INT, 12, 1); // SCM_RIGHTS
        control.set(ValueLayout.JAVA_INT, 16, token);
      }
      MemorySegment addr = MemorySegment.NULL;
      if (dest != null) {
        addr = a.allocate(2 + dest.length, 8);
        addr.set(ValueLayout.JAVA_SHORT, 0, (short) SocketCalls.AF_UNIX);
        MemorySegment.copy(dest, 0, addr, ValueLayout.JAVA_BYTE, 2, dest.length);
      }
      HostSockets.fillMsghdr(msg, addr, (int) addr.byteSize(), HostSockets.iovec(a, data), control, control.byteSize());
      return HostSockets.sendmsg(s.hostFd(), msg, flags);
    }
  }

  /**
   * Receives one host read into the iovecs (MSG_WAITALL on a stream repeats until full, EOF, a
   * signal, the timeout or a message with descriptors), writes the sender's guest name and, for
   * recvmsg, the descriptors passed (see {@link SocketControl#deliver}), msg_controllen and
   * msg_flags. recvfrom has no control buffer: passed descriptors are closed, as on Linux.
   */
  private static long recv(Call c, UnixSocket s, Iov[] v, int flags, long nameAddr, long nameLenAddr, long msg,
      long control, long controlLen) {
    long total = Math.min(total(v), Call.CHUNK);
    boolean dontWait = s.nonBlocking() || (flags & MSG_DONTWAIT) != 0;
    boolean stream = s.type() == UnixSocket.SOCK_STREAM;
    boolean peek = (flags & MSG_PEEK) != 0;
    long deadline = s.timeouts().receiveDeadline();
    int hostFlags = (flags & (MSG_PEEK | MSG_TRUNC)) | MSG_DONTWAIT | MSG_CMSG_CLOEXEC;
    MemorySegment buf = Call.buffer();
    long got = 0;
    int outFlags = 0;
    byte[] from = null;
    java.util.List<org.vmspace.vkernel.fs.FileDescription> files = new java.util.ArrayList<>();
    try (Arena a = Arena.ofConfined()) {
      MemorySegment m = a.allocate(HostSockets.MSGHDR_SIZE, 8);
      MemorySegment iov = a.allocate(16, 8);
      MemorySegment name = a.allocate(110, 8);
      MemorySegment hostControl = a.allocate(SocketControl.HOST_CONTROL, 8);
      while (true) {
        iov.set(ValueLayout.JAVA_LONG, 0, buf.address() + got);
        iov.set(ValueLayout.JAVA_LONG, 8, total - got);
        HostSockets.fillMsghdr(m, name, 110, iov, hostControl, SocketControl.HOST_CONTROL);
        long n = HostSockets.recvmsg(s.hostFd(), m, hostFlags);
        if (n >= 0) {
          files.addAll(SocketControl.claim(s, hostControl, m.get(ValueLayout.JAVA_LONG, 40), peek));
          if (!stream) {
            from = s.guestNameOfHost(name.asSlice(2, Math.max(0, m.get(ValueLayout.JAVA_INT, 8) - 2))
                .toArray(ValueLayout.JAVA_BYTE));
          }
          // MSG_CTRUNC is the guest's own buffer's business (SocketControl), never the host's;
          // MSG_CMSG_CLOEXEC comes back in msg_flags only when the guest asked for it (Linux
          // returns the flag it was given), not because the kernel asks the host for it.
          outFlags = (m.get(ValueLayout.JAVA_INT, 48) & ~(org.vmspace.vkernel.net.Ancillary.MSG_CTRUNC | MSG_CMSG_CLOEXEC))
              | (flags & MSG_CMSG_CLOEXEC);
          // MSG_TRUNC asks for a datagram's real length, which may exceed what was stored.
          long stored = Math.min(n, total - got);
          got += stored;
          long reported = n - stored;
          // A stream read stops after a message with descriptors, as Linux's does.
          if (stream && (flags & MSG_WAITALL) != 0 && n > 0 && got < total && !peek && files.isEmpty()) {
            continue;
          }
          scatter(c, v, buf, got);
          if (msg != 0) {
            long[] r = SocketControl.deliver(c, files, control, controlLen, (flags & MSG_CMSG_CLOEXEC) != 0, outFlags);
            files = java.util.List.of();
            c.mem().writeLong(msg + 40, r[0]);
            c.mem().writeInt(msg + 48, (int) r[1]);
          }
          if (nameAddr != 0) {
            // A stream reports the sending socket's name too: the peer's (Linux's unix_copy_addr);
            // an unnamed sender leaves the length 0, not the family alone as accept reports it.
            byte[] sender = stream ? peerNameOrNull(s) : from;
            if (sender == null) {
              c.mem().writeInt(nameLenAddr, 0);
            } else {
              SocketCalls.writeAddress(c, nameAddr, nameLenAddr, sender);
            }
          }
          return got + reported;
        }
        int errno = (int) -n;
        if (errno == LinuxErrno.EAGAIN && !dontWait) {
          Blocker.Wait w = c.thread.blocker().await(s.pollFd(), Host.POLLIN, deadline, true);
          if (w == Blocker.Wait.SIGNAL || w == Blocker.Wait.TIMEOUT) {
            if (got > 0) {
              scatter(c, v, buf, got);
              return got;
            }
            throw new SyscallError(w == Blocker.Wait.TIMEOUT ? LinuxErrno.EAGAIN : interrupted(deadline));
          }
          continue;
        }
        if (got > 0) {
          scatter(c, v, buf, got);
          return got;
        }
        throw new SyscallError(errno);
      }
    } finally {
      // Descriptions claimed and not handed to the guest (recvfrom, or a fault on the way).
      files.forEach(org.vmspace.vkernel.fs.FileDescription::release);
    }
  }

  private static byte[] peerNameOrNull(UnixSocket s) {
    try {
      return s.peerName();
    } catch (SyscallError e) {
      return null;
    }
  }

  static void scatter(Call c, Iov[] v, MemorySegment buf, long len) {
    long off = 0;
    for (Iov i : v) {
      if (off >= len) {
        break;
      }
      long n = Math.min(i.len(), len - off);
      c.mem().write(i.base(), buf, off, n);
      off += n;
    }
  }
}
