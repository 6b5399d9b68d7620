package org.vmspace.kvm.linux;

/**
 * A failed libc or Linux call: the call's name, the argument that matters and the errno.
 *
 * <p>Unchecked: callers that can recover (for example a KVM_RUN interrupted by a signal) test
 * {@link #errno()}; everything else lets it propagate to the service boundary, which turns it
 * into a {@link org.vmspace.api.VmspaceException}.
 */
public final class LinuxException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int errno;
  private final String call;

  /**
   * @param call the call, with its distinguishing argument, e.g. {@code ioctl(KVM_CREATE_VM)}
   * @param errno the errno it set
   */
  public LinuxException(String call, int errno) {
    super(call + ": " + Errnos.name(errno) + " (" + Errnos.describe(errno) + ")");
    this.errno = errno;
    this.call = call;
  }

  /** The errno value. */
  public int errno() {
    return errno;
  }

  /** The call that failed. */
  public String call() {
    return call;
  }
}
