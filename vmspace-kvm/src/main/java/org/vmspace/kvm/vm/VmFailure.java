package org.vmspace.kvm.vm;

import org.vmspace.api.Errno;

/**
 * A call on a vmspace failed with an errno of the contract. The service turns it into a {@link
 * org.vmspace.api.VmspaceException} naming the call and the id. No stack trace: it is control
 * flow, like the C calls' {@code return (EINVAL)}.
 */
public final class VmFailure extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Errno errno;

  public VmFailure(Errno errno, String detail) {
    super(detail, null, false, false);
    this.errno = errno;
  }

  public Errno errno() {
    return errno;
  }
}
