package org.vmspace.vkernel.fs;

import java.lang.foreign.MemorySegment;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * A description backed by a host descriptor: a regular file, a directory, a pipe end, a
 * terminal or a device. Most operations are the host's own.
 */
public class HostFileDescription extends FileDescription {
  private static final int S_IFMT = 0170000;
  private static final int S_IFREG = 0100000;
  private static final int S_IFDIR = 0040000;
  private final int fd;
  private final String path;
  private final int type;
  private final long inode;
  private final long rdev;
  private final boolean hostNonBlocking;
  private final boolean mountWritable;

  /**
   * @param fd the host descriptor, owned from now on
   * @param path the guest path
   * @param statusFlags the access mode and O_APPEND/O_NONBLOCK as the guest asked
   * @param hostNonBlocking whether the host descriptor is non-blocking (pipes the kernel made):
   *     blocking I/O is then emulated with poll
   * @param mountWritable whether the file may be changed through fchmod, fchown, ftruncate
   */
  public HostFileDescription(int fd, String path, int statusFlags, boolean hostNonBlocking, boolean mountWritable) {
    super(statusFlags);
    this.fd = fd;
    this.path = path;
    this.hostNonBlocking = hostNonBlocking;
    this.mountWritable = mountWritable;
    MemorySegment st = java.lang.foreign.Arena.ofAuto().allocate(Host.STAT_SIZE, 8);
    if (Host.fstat(fd, st) == 0) {
      this.type = st.get(java.lang.foreign.ValueLayout.JAVA_INT, 24) & S_IFMT;
      this.inode = st.get(java.lang.foreign.ValueLayout.JAVA_LONG, 8);
      this.rdev = st.get(java.lang.foreign.ValueLayout.JAVA_LONG, 40);
    } else {
      this.type = 0;
      this.inode = 0;
      this.rdev = 0;
    }
  }

  /** A description for a host descriptor of a regular file or directory on a read-only root. */
  public HostFileDescription(int fd, String path, int statusFlags) {
    this(fd, path, statusFlags, false, false);
  }

  /** Whether the host descriptor is non-blocking (EAGAIN means: poll, then retry). */
  public boolean hostNonBlocking() {
    return hostNonBlocking;
  }

  /** Whether its file system is writable by the guest. */
  public boolean mountWritable() {
    return mountWritable;
  }

  /** The host inode number. */
  public long inode() {
    return inode;
  }

  /** Whether it is a FIFO (a pipe). */
  public boolean isFifo() {
    return type == 0010000;
  }

  /** Whether it is a character device (a terminal, /dev/null). */
  public boolean isCharDevice() {
    return type == 0020000;
  }

  static long check(long r) {
    if (r < 0) {
      throw new SyscallError((int) -r);
    }
    return r;
  }

  @Override
  public String path() {
    return path;
  }

  public boolean isDirectory() {
    return type == S_IFDIR;
  }

  public boolean isRegular() {
    return type == S_IFREG;
  }

  @Override
  public int hostFd() {
    return fd;
  }

  /**
   * Whether it is one of Linux's memory devices that never block and fill every read (null,
   * zero, full, random, urandom: major 1, minors 3 5 7 8 9). Reads of them are not cut at one
   * copy chunk as a pipe's are: {@code dd bs=1M count=1 </dev/zero} must get 1 MiB.
   */
  public boolean isMemoryDevice() {
    long major = ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
    long minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xffL);
    return isCharDevice() && major == 1 && (minor == 3 || minor == 5 || minor == 7 || minor == 8 || minor == 9);
  }

  @Override
  public int pollFd() {
    return type == S_IFREG || type == S_IFDIR || isMemoryDevice() ? -1 : fd;
  }

  @Override
  public long read(MemorySegment buf, long len) {
    if (isDirectory()) {
      throw new SyscallError(org.vmspace.vkernel.sys.LinuxErrno.EISDIR);
    }
    return check(Host.read(fd, buf, len));
  }

  @Override
  public long write(MemorySegment buf, long len) {
    return check(Host.write(fd, buf, len));
  }

  @Override
  public long pread(MemorySegment buf, long len, long offset) {
    return check(Host.pread(fd, buf, len, offset));
  }

  @Override
  public long pwrite(MemorySegment buf, long len, long offset) {
    return check(Host.pwrite(fd, buf, len, offset));
  }

  @Override
  public long lseek(long offset, int whence) {
    return check(Host.lseek(fd, offset, whence));
  }

  @Override
  public void fstat(MemorySegment stat) {
    check(Host.fstat(fd, stat));
  }

  @Override
  public long getdents64(MemorySegment buf, long len) {
    return check(Host.getdents64(fd, buf, len));
  }

  @Override
  public int ioctl(long request, MemorySegment arg) {
    return (int) check(Host.ioctl(fd, request, arg));
  }

  @Override
  public void setStatusFlags(int flags) {
    super.setStatusFlags(flags);
    // O_APPEND matters to the host (writes go to the end); the guest's O_NONBLOCK is emulated
    // by the kernel, and a host descriptor the kernel made non-blocking must stay so: a
    // blocking host read would hold the guest thread where no signal reaches it.
    Host.fcntl(fd, 4 /* F_SETFL */, (statusFlags & Host.O_APPEND) | (hostNonBlocking ? Host.O_NONBLOCK : 0));
  }

  @Override
  protected void close() {
    Host.close(fd);
  }

  @Override
  public String toString() {
    return path;
  }
}
