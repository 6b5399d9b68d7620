package org.vmspace.pagetest;

/**
 * One user-mode (CPL3) access for the {@link AccessRunner}: an 8-byte read, an 8-byte write or
 * an instruction fetch at a virtual address. Immutable.
 *
 * @param type what the access does
 * @param va where (canonical; a read or write must not cross its page: offset at most 0xff8
 *     in the page, a fetch at most 0xffe)
 */
public record UserAccess(Type type, long va) {
  /** The three kinds of access. */
  public enum Type {
    /** {@code mov rax, [va]}. */
    READ,
    /** {@code mov [va], rax}: stores {@link AccessRunner#WRITE_VALUE}. */
    WRITE,
    /** {@code jmp va}: an instruction fetch at {@code va}. */
    FETCH
  }

  /**
   * @throws NullPointerException if {@code type} is null
   * @throws IllegalArgumentException if {@code va} is not canonical or the access would cross
   *     a page
   */
  public UserAccess {
    java.util.Objects.requireNonNull(type, "type");
    if ((va << 16 >> 16) != va) {
      throw new IllegalArgumentException("0x" + Long.toHexString(va) + " is not canonical");
    }
    long width = type == Type.FETCH ? 2 : 8;
    if ((va & 0xFFF) + width > 0x1000) {
      throw new IllegalArgumentException(type + " of " + width + " bytes at 0x" + Long.toHexString(va) + " crosses a page");
    }
  }

  /** An 8-byte user read at {@code va}. */
  public static UserAccess read(long va) {
    return new UserAccess(Type.READ, va);
  }

  /** An 8-byte user write at {@code va}. */
  public static UserAccess write(long va) {
    return new UserAccess(Type.WRITE, va);
  }

  /** A user instruction fetch at {@code va}. */
  public static UserAccess fetch(long va) {
    return new UserAccess(Type.FETCH, va);
  }

  /** {@code read 0x400000}. */
  @Override
  public String toString() {
    return type.name().toLowerCase(java.util.Locale.ROOT) + " 0x" + Long.toHexString(va);
  }
}
