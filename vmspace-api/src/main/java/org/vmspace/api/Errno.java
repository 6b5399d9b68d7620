package org.vmspace.api;

/**
 * The error numbers the vmspace contract uses, with Linux's numeric values (the host's).
 *
 * <p>The names are the contract; the numbers are those a Linux program would see, which is what
 * a virtual kernel running Linux programs returns to its guests.
 */
public enum Errno {
  /** Operation not permitted. */
  EPERM(1, "Operation not permitted"),
  /** No entry with that id, or it was already deleted. */
  ENOENT(2, "No such file or directory"),
  /** Interrupted system call. */
  EINTR(4, "Interrupted system call"),
  /** Input/output error. */
  EIO(5, "Input/output error"),
  /** A closed or invalid backing (memory object or file). */
  EBADF(9, "Bad file descriptor"),
  /** Resource temporarily unavailable. */
  EAGAIN(11, "Resource temporarily unavailable"),
  /** No room in the address space, or over a memory limit. */
  ENOMEM(12, "Cannot allocate memory"),
  /** The protection asked for exceeds the backing's access. */
  EACCES(13, "Permission denied"),
  /** A frame or buffer that cannot be read or written. */
  EFAULT(14, "Bad address"),
  /** Another active reference exists (a running thread, a concurrent call). */
  EBUSY(16, "Device or resource busy"),
  /** The id is already in use. */
  EEXIST(17, "File exists"),
  /** An invalid argument. */
  EINVAL(22, "Invalid argument"),
  /** The operation or backend is not supported on this machine. */
  EOPNOTSUPP(95, "Operation not supported");

  private final int code;
  private final String description;

  Errno(int code, String description) {
    this.code = code;
    this.description = description;
  }

  /** The Linux errno value. */
  public int code() {
    return code;
  }

  /** The strerror(3) text. */
  public String description() {
    return description;
  }

  /**
   * Returns the constant with the given Linux errno value.
   *
   * @throws IllegalArgumentException if the value is not one of these constants
   */
  public static Errno ofCode(int code) {
    for (Errno e : values()) {
      if (e.code == code) {
        return e;
      }
    }
    throw new IllegalArgumentException("not a vmspace errno: " + code);
  }
}
