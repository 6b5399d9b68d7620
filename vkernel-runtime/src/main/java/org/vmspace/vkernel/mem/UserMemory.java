package org.vmspace.vkernel.mem;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceService;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.PathBytes;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * A guest process's memory as system calls see it: copies in and out through {@code
 * vmspace_pread}/{@code vmspace_pwrite}, with the mappings' permissions. A copy that stops short
 * is {@code EFAULT}, as copy_from_user/copy_to_user make it in Linux.
 */
public final class UserMemory {
  private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private final VmspaceService vms;
  private volatile VmspaceId id;

  public UserMemory(VmspaceService vms, VmspaceId id) {
    this.vms = vms;
    this.id = id;
  }

  /** The vmspace the memory is in (execve replaces it). */
  public VmspaceId id() {
    return id;
  }

  public void id(VmspaceId newId) {
    this.id = newId;
  }

  /** Copies {@code len} guest bytes at {@code addr} into {@code dst} at {@code offset}. */
  public void read(long addr, MemorySegment dst, long offset, long len) {
    if (len == 0) {
      return;
    }
    if (vms.pread(id, dst.asSlice(offset, len), len, 0, addr) != len) {
      throw new SyscallError(LinuxErrno.EFAULT, "read 0x" + Long.toHexString(addr));
    }
  }

  /** Copies {@code len} bytes of {@code src} from {@code offset} to guest memory at {@code addr}. */
  public void write(long addr, MemorySegment src, long offset, long len) {
    if (len == 0) {
      return;
    }
    if (vms.pwrite(id, src.asSlice(offset, len), len, 0, addr) != len) {
      throw new SyscallError(LinuxErrno.EFAULT, "write 0x" + Long.toHexString(addr));
    }
  }

  public byte[] readBytes(long addr, int len) {
    byte[] b = new byte[len];
    read(addr, MemorySegment.ofArray(b), 0, len);
    return b;
  }

  public void writeBytes(long addr, byte[] b) {
    write(addr, MemorySegment.ofArray(b), 0, b.length);
  }

  public long readLong(long addr) {
    MemorySegment s = MemorySegment.ofArray(new long[1]);
    read(addr, s, 0, 8);
    return s.get(LONG, 0);
  }

  public void writeLong(long addr, long value) {
    MemorySegment s = MemorySegment.ofArray(new long[1]);
    s.set(LONG, 0, value);
    write(addr, s, 0, 8);
  }

  public int readInt(long addr) {
    MemorySegment s = MemorySegment.ofArray(new int[1]);
    read(addr, s, 0, 4);
    return s.get(INT, 0);
  }

  public void writeInt(long addr, int value) {
    MemorySegment s = MemorySegment.ofArray(new int[1]);
    s.set(INT, 0, value);
    write(addr, s, 0, 4);
  }

  /**
   * Reads a NUL-terminated string of at most {@code max} bytes as a {@link PathBytes} string (one char per
   * byte: nothing decoded).
   *
   * @throws SyscallError ENAMETOOLONG without a NUL in {@code max} bytes, EFAULT if unreadable
   */
  public String readCString(long addr, int max) {
    return PathBytes.of(readCStringBytes(addr, max));
  }

  public byte[] readCStringBytes(long addr, int max) {
    if (addr == 0) {
      throw new SyscallError(LinuxErrno.EFAULT, "NULL string");
    }
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    long at = addr;
    while (out.size() < max) {
      int chunk = (int) Math.min(max - out.size(), 4096 - (at & 4095));
      byte[] buf = new byte[chunk];
      long got = vms.pread(id, MemorySegment.ofArray(buf), chunk, 0, at);
      for (int i = 0; i < got; i++) {
        if (buf[i] == 0) {
          out.write(buf, 0, i);
          return out.toByteArray();
        }
      }
      if (got < chunk) {
        throw new SyscallError(LinuxErrno.EFAULT, "string at 0x" + Long.toHexString(addr));
      }
      out.write(buf, 0, chunk);
      at += chunk;
    }
    throw new SyscallError(LinuxErrno.ENAMETOOLONG);
  }

  /**
   * Reads a NULL-terminated array of string pointers (argv, envp), each string up to 128 KiB.
   *
   * @throws SyscallError E2BIG past {@code maxCount} strings or {@code maxBytes} bytes (counting
   *     each terminating NUL), checked as it reads so that a guest cannot make the kernel read
   *     without end; EFAULT, ENAMETOOLONG as for one string
   */
  public java.util.List<byte[]> readStringArray(long addr, int maxCount, long maxBytes) {
    java.util.List<byte[]> list = new java.util.ArrayList<>();
    if (addr == 0) {
      return list;
    }
    long bytes = 0;
    for (int i = 0; ; i++) {
      if (i >= maxCount) {
        throw new SyscallError(LinuxErrno.E2BIG);
      }
      long p = readLong(addr + 8L * i);
      if (p == 0) {
        return list;
      }
      byte[] s;
      try {
        s = readCStringBytes(p, 128 * 1024);
      } catch (SyscallError e) {
        // One string over MAX_ARG_STRLEN (128 KiB) is E2BIG in Linux, not ENAMETOOLONG.
        throw e.errno() == LinuxErrno.ENAMETOOLONG ? new SyscallError(LinuxErrno.E2BIG, "an argument over 128 KiB") : e;
      }
      bytes += s.length + 1;
      if (bytes > maxBytes) {
        throw new SyscallError(LinuxErrno.E2BIG);
      }
      list.add(s);
    }
  }
}
