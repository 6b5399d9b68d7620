package org.vmspace.vkernel.host;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Host socket calls. Like {@link Host}, each returns the call's result or {@code -errno} and
 * never throws for a failed call; addresses, lengths and message headers are segments the caller
 * allocates in the host's layouts.
 */
@SuppressWarnings("restricted")
public final class HostSockets {
  private static final MethodHandle SOCKET = Host.fn("socket", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
  private static final MethodHandle BIND = Host.fn("bind", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
  private static final MethodHandle LISTEN = Host.fn("listen", JAVA_INT, JAVA_INT, JAVA_INT);
  private static final MethodHandle ACCEPT4 = Host.fn("accept4", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT);
  private static final MethodHandle CONNECT = Host.fn("connect", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
  private static final MethodHandle SENDMSG = Host.fn("sendmsg", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
  private static final MethodHandle RECVMSG = Host.fn("recvmsg", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
  private static final MethodHandle GETSOCKOPT = Host.fn("getsockopt", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
  private static final MethodHandle SETSOCKOPT = Host.fn("setsockopt", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
  private static final MethodHandle SHUTDOWN = Host.fn("shutdown", JAVA_INT, JAVA_INT, JAVA_INT);
  private static final MethodHandle GETSOCKNAME = Host.fn("getsockname", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
  private static final MethodHandle GETPEERNAME = Host.fn("getpeername", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);

  private HostSockets() {}

  public static int socket(int domain, int type, int protocol) {
    MemorySegment c = Host.CAPTURE.get();
    try {
      return (int) Host.ret((int) SOCKET.invokeExact(c, domain, type, protocol), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  public static int bind(int fd, MemorySegment addr, int len) {
    MemorySegment c = Host.CAPTURE.get();
    try {
      return (int) Host.ret((int) BIND.invokeExact(c, fd, addr, len), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  public static int listen(int fd, int backlog) {
    MemorySegment c = Host.CAPTURE.get();
    try {
      return (int) Host.ret((int) LISTEN.invokeExact(c, fd, backlog), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  /** accept4(2) without the peer's address. */
  public static int accept4(int fd, int flags) {
    MemorySegment c = Host.CAPTURE.get();
    try {
      return (int) Host.ret((int) ACCEPT4.invokeExact(c, fd, MemorySegment.NULL, MemorySegment.NULL, flags), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  public static int connect(int fd, MemorySegment addr, int len) {
    MemorySegment c = Host.CAPTURE.get();
    try {
      return (int) Host.ret((int) CONNECT.invokeExact(c, fd, addr, len), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  /** The size of a {@code struct msghdr}. */
  public static final long MSGHDR_SIZE = 56;

  /**
   * Fills {@code m}, a {@code struct msghdr}, for one host sendmsg or recvmsg through a single
   * iovec ({@code iov}, whose base and length the caller sets): the name and control buffers
   * and their lengths (NULL and 0 for none), msg_flags 0.
   */
  public static void fillMsghdr(MemorySegment m, MemorySegment name, int nameLen, MemorySegment iov,
      MemorySegment control, long controlLen) {
    m.fill((byte) 0);
    m.set(ValueLayout.ADDRESS, 0, name);
    m.set(ValueLayout.JAVA_INT, 8, nameLen);
    m.set(ValueLayout.ADDRESS, 16, iov);
    m.set(ValueLayout.JAVA_LONG, 24, 1);
    m.set(ValueLayout.ADDRESS, 32, control);
    m.set(ValueLayout.JAVA_LONG, 40, controlLen);
  }

  /** A single iovec over {@code data}, allocated in {@code a}. */
  public static MemorySegment iovec(Arena a, MemorySegment data) {
    MemorySegment iov = a.allocate(16, 8);
    iov.set(ValueLayout.JAVA_LONG, 0, data.address());
    iov.set(ValueLayout.JAVA_LONG, 8, data.byteSize());
    return iov;
  }

  public static long sendmsg(int fd, MemorySegment msghdr, int flags) {
    MemorySegment c = Host.CAPTURE.get();
    try {
      return Host.ret((long) SENDMSG.invokeExact(c, fd, msghdr, flags), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  public static long recvmsg(int fd, MemorySegment msghdr, int flags) {
    MemorySegment c = Host.CAPTURE.get();
    try {
      return Host.ret((long) RECVMSG.invokeExact(c, fd, msghdr, flags), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  public static int getsockopt(int fd, int level, int name, MemorySegment value, MemorySegment lenp) {
    MemorySegment c = Host.CAPTURE.get();
    try {
      return (int) Host.ret((int) GETSOCKOPT.invokeExact(c, fd, level, name, value, lenp), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  public static int setsockopt(int fd, int level, int name, MemorySegment value, int len) {
    MemorySegment c = Host.CAPTURE.get();
    try {
      return (int) Host.ret((int) SETSOCKOPT.invokeExact(c, fd, level, name, value, len), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  public static int shutdown(int fd, int how) {
    MemorySegment c = Host.CAPTURE.get();
    try {
      return (int) Host.ret((int) SHUTDOWN.invokeExact(c, fd, how), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  public static int getsockname(int fd, MemorySegment addr, MemorySegment lenp) {
    MemorySegment c = Host.CAPTURE.get();
    try {
      return (int) Host.ret((int) GETSOCKNAME.invokeExact(c, fd, addr, lenp), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  public static int getpeername(int fd, MemorySegment addr, MemorySegment lenp) {
    MemorySegment c = Host.CAPTURE.get();
    try {
      return (int) Host.ret((int) GETPEERNAME.invokeExact(c, fd, addr, lenp), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  /** accept4(2) with the peer's address written to {@code addr} (its size in {@code lenp}). */
  public static int accept4(int fd, MemorySegment addr, MemorySegment lenp, int flags) {
    MemorySegment c = Host.CAPTURE.get();
    try {
      return (int) Host.ret((int) ACCEPT4.invokeExact(c, fd, addr, lenp, flags), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }
}
