package org.vmspace.vkernel.sys;

/**
 * A system call fails with a Linux errno: thrown anywhere below a system call handler, turned
 * into {@code -errno} for the guest by the dispatcher. No stack trace: it is control flow.
 */
public final class SyscallError extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int errno;

  public SyscallError(int errno) {
    super(LinuxErrno.name(errno), null, false, false);
    this.errno = errno;
  }

  public SyscallError(int errno, String detail) {
    super(LinuxErrno.name(errno) + ": " + detail, null, false, false);
    this.errno = errno;
  }

  public int errno() {
    return errno;
  }
}
