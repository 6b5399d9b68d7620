package org.vmspace.vkernel.fs;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/** A read-only file whose bytes were generated when it was opened (a /proc file). */
public final class VirtualFile extends FileDescription {
  private final String path;
  private final byte[] content;
  private final long inode;
  private long offset;

  public VirtualFile(String path, byte[] content, long inode) {
    super(0);
    this.path = path;
    this.content = content;
    this.inode = inode;
  }

  @Override
  public String path() {
    return path;
  }

  @Override
  public synchronized long read(MemorySegment buf, long len) {
    long n = pread(buf, len, offset);
    offset += n;
    return n;
  }

  @Override
  public long pread(MemorySegment buf, long len, long at) {
    if (at < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (at >= content.length) {
      return 0;
    }
    int n = (int) Math.min(len, content.length - at);
    MemorySegment.copy(MemorySegment.ofArray(content), at, buf, 0, n);
    return n;
  }

  @Override
  public long write(MemorySegment buf, long len) {
    throw new SyscallError(LinuxErrno.EACCES);
  }

  @Override
  public synchronized long lseek(long off, int whence) {
    long base = switch (whence) {
      case 0 -> 0;
      case 1 -> offset;
      case 2 -> content.length;
      default -> throw new SyscallError(LinuxErrno.EINVAL);
    };
    if (base + off < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    offset = base + off;
    return offset;
  }

  @Override
  public void fstat(MemorySegment st) {
    Stat.fill(st, inode, 0100444, 1, content.length);
  }
}
