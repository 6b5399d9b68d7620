package org.vmspace.api;

/**
 * The opaque 64-bit name of a vmspace, chosen by the caller (DragonFly used a {@code void *}).
 *
 * <p>The value is treated as unsigned: ids order by {@link Long#compareUnsigned}. The value
 * {@code 0} is representable (as {@link #NULL}) so that it can be passed to the service, which
 * rejects it with {@link Errno#EINVAL}; it never names a vmspace.
 *
 * <p>Instances are immutable and compare by value.
 */
public final class VmspaceId implements Comparable<VmspaceId> {
  /** The invalid id 0. Every call given it fails with {@link Errno#EINVAL} or {@link Errno#ENOENT}. */
  public static final VmspaceId NULL = new VmspaceId(0);

  private final long value;

  private VmspaceId(long value) {
    this.value = value;
  }

  /**
   * Returns the id with the given unsigned 64-bit value.
   *
   * @param value any value; 0 gives {@link #NULL}
   */
  public static VmspaceId of(long value) {
    return value == 0 ? NULL : new VmspaceId(value);
  }

  /** The unsigned 64-bit value. */
  public long value() {
    return value;
  }

  /** Whether this id may name a vmspace (it is not {@link #NULL}). */
  public boolean isValid() {
    return value != 0;
  }

  @Override
  public int compareTo(VmspaceId other) {
    return Long.compareUnsigned(value, other.value);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof VmspaceId other && other.value == value;
  }

  @Override
  public int hashCode() {
    return Long.hashCode(value);
  }

  /** The value in hexadecimal, e.g. {@code 0x2a}. */
  @Override
  public String toString() {
    return "0x" + Long.toHexString(value);
  }
}
