package org.vmspace.api;

import java.util.Objects;

/**
 * The one exception of the vmspace API: a call failed with the {@link Errno} of the contract.
 *
 * <p>Its message names the call, the id and the argument at fault, for example {@code
 * vmspace_mmap(id=0x2a): EINVAL (Invalid argument): len is 0}. Being unchecked, it propagates
 * like the {@code -1}/{@code errno} of the C calls; callers that emulate system calls catch it
 * and return {@link #errno()} to their guest.
 */
public final class VmspaceException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Errno errno;
  private final String call;
  private final transient VmspaceId id;

  /**
   * @param errno the error number
   * @param call the call that failed, e.g. {@code "vmspace_mmap"}
   * @param id the id the call was given, or {@code null} for calls without one
   * @param detail the argument at fault and why, e.g. {@code "len is 0"}
   */
  public VmspaceException(Errno errno, String call, VmspaceId id, String detail) {
    super(format(errno, call, id, detail));
    this.errno = Objects.requireNonNull(errno, "errno");
    this.call = Objects.requireNonNull(call, "call");
    this.id = id;
  }

  /**
   * Like {@link #VmspaceException(Errno, String, VmspaceId, String)} with the underlying cause.
   */
  public VmspaceException(Errno errno, String call, VmspaceId id, String detail, Throwable cause) {
    this(errno, call, id, detail);
    initCause(cause);
  }

  private static String format(Errno errno, String call, VmspaceId id, String detail) {
    StringBuilder sb = new StringBuilder(call).append('(');
    if (id != null) {
      sb.append("id=").append(id);
    }
    sb.append("): ").append(errno.name()).append(" (").append(errno.description()).append(')');
    if (detail != null && !detail.isEmpty()) {
      sb.append(": ").append(detail);
    }
    return sb.toString();
  }

  /** The error number of the contract. */
  public Errno errno() {
    return errno;
  }

  /** The call that failed, e.g. {@code vmspace_munmap}. */
  public String call() {
    return call;
  }

  /** The id the call was given, or {@code null}. */
  public VmspaceId id() {
    return id;
  }
}
