package org.vmspace.vkernel.host;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Extended attributes of host files (getxattr(2) and friends), by path or by descriptor. Every
 * method returns the C call's result, or {@code -errno}; paths and names are bytes.
 */
public final class HostXattr {
  private static final MethodHandle GETXATTR = Host.fn("getxattr", JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG);
  private static final MethodHandle FGETXATTR = Host.fn("fgetxattr", JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG);
  private static final MethodHandle LISTXATTR = Host.fn("listxattr", JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG);
  private static final MethodHandle FLISTXATTR = Host.fn("flistxattr", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG);
  private static final MethodHandle SETXATTR = Host.fn("setxattr", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT);
  private static final MethodHandle FSETXATTR = Host.fn("fsetxattr", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT);
  private static final MethodHandle REMOVEXATTR = Host.fn("removexattr", JAVA_INT, ADDRESS, ADDRESS);
  private static final MethodHandle FREMOVEXATTR = Host.fn("fremovexattr", JAVA_INT, JAVA_INT, ADDRESS);

  private HostXattr() {}

  /** getxattr(2) of {@code path} (which the host resolves, following symbolic links). */
  public static long get(byte[] path, byte[] name, MemorySegment value, long size) {
    MemorySegment c = Host.CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      return Host.ret((long) GETXATTR.invokeExact(c, Host.cstr(a, path), Host.cstr(a, name), value, size), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  /** fgetxattr(2). */
  public static long get(int fd, byte[] name, MemorySegment value, long size) {
    MemorySegment c = Host.CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      return Host.ret((long) FGETXATTR.invokeExact(c, fd, Host.cstr(a, name), value, size), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  /** listxattr(2) of {@code path}. */
  public static long list(byte[] path, MemorySegment list, long size) {
    MemorySegment c = Host.CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      return Host.ret((long) LISTXATTR.invokeExact(c, Host.cstr(a, path), list, size), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  /** flistxattr(2). */
  public static long list(int fd, MemorySegment list, long size) {
    MemorySegment c = Host.CAPTURE.get();
    try {
      return Host.ret((long) FLISTXATTR.invokeExact(c, fd, list, size), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  /** setxattr(2) of {@code path}. */
  public static int set(byte[] path, byte[] name, MemorySegment value, long size, int flags) {
    MemorySegment c = Host.CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      return (int) Host.ret((int) SETXATTR.invokeExact(c, Host.cstr(a, path), Host.cstr(a, name), value, size, flags), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  /** fsetxattr(2). */
  public static int set(int fd, byte[] name, MemorySegment value, long size, int flags) {
    MemorySegment c = Host.CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      return (int) Host.ret((int) FSETXATTR.invokeExact(c, fd, Host.cstr(a, name), value, size, flags), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  /** removexattr(2) of {@code path}. */
  public static int remove(byte[] path, byte[] name) {
    MemorySegment c = Host.CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      return (int) Host.ret((int) REMOVEXATTR.invokeExact(c, Host.cstr(a, path), Host.cstr(a, name)), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }

  /** fremovexattr(2). */
  public static int remove(int fd, byte[] name) {
    MemorySegment c = Host.CAPTURE.get();
    try (Arena a = Arena.ofConfined()) {
      return (int) Host.ret((int) FREMOVEXATTR.invokeExact(c, fd, Host.cstr(a, name)), c);
    } catch (Throwable t) {
      throw Host.rethrow(t);
    }
  }
}
