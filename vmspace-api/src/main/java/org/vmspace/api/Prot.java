package org.vmspace.api;

/**
 * A page protection: any combination of read, write and execute, with mmap(2)'s bit values
 * ({@code PROT_READ} 1, {@code PROT_WRITE} 2, {@code PROT_EXEC} 4). Immutable.
 *
 * <p>On x86-64 a writable or executable page is also readable; the service maps {@code
 * PROT_WRITE} or {@code PROT_EXEC} alone as if {@code PROT_READ} were given, as mmap(2) does.
 */
public final class Prot {
  /** mmap(2)'s {@code PROT_NONE}: no access. */
  public static final int PROT_NONE = 0x0;
  /** mmap(2)'s {@code PROT_READ}. */
  public static final int PROT_READ = 0x1;
  /** mmap(2)'s {@code PROT_WRITE}. */
  public static final int PROT_WRITE = 0x2;
  /** mmap(2)'s {@code PROT_EXEC}. */
  public static final int PROT_EXEC = 0x4;

  private static final Prot[] ALL_VALUES = new Prot[8];

  static {
    for (int bits = 0; bits < 8; bits++) {
      ALL_VALUES[bits] = new Prot(bits);
    }
  }

  /** No access. */
  public static final Prot NONE = ALL_VALUES[0];
  /** Read only. */
  public static final Prot READ = ALL_VALUES[PROT_READ];
  /** Read and write. */
  public static final Prot READ_WRITE = ALL_VALUES[PROT_READ | PROT_WRITE];
  /** Read and execute. */
  public static final Prot READ_EXEC = ALL_VALUES[PROT_READ | PROT_EXEC];
  /** Read, write and execute. */
  public static final Prot ALL = ALL_VALUES[7];

  private final int bits;

  private Prot(int bits) {
    this.bits = bits;
  }

  /**
   * The protection with these mmap(2) bits.
   *
   * @throws IllegalArgumentException if bits other than read, write and execute are set; use
   *     {@link #isValid(int)} to check untrusted values first
   */
  public static Prot of(int bits) {
    if (!isValid(bits)) {
      throw new IllegalArgumentException("invalid protection bits 0x" + Integer.toHexString(bits));
    }
    return ALL_VALUES[bits];
  }

  /** Whether only the read, write and execute bits are set. */
  public static boolean isValid(int bits) {
    return (bits & ~7) == 0;
  }

  /** The mmap(2) bits. */
  public int bits() {
    return bits;
  }

  /** Whether reading is allowed. */
  public boolean canRead() {
    return (bits & PROT_READ) != 0;
  }

  /** Whether writing is allowed. */
  public boolean canWrite() {
    return (bits & PROT_WRITE) != 0;
  }

  /** Whether execution is allowed. */
  public boolean canExecute() {
    return (bits & PROT_EXEC) != 0;
  }

  /** Whether every access this protection allows is also allowed by {@code other}. */
  public boolean isSubsetOf(Prot other) {
    return (bits & ~other.bits) == 0;
  }

  /** The protection allowing the accesses of both. */
  public Prot union(Prot other) {
    return ALL_VALUES[bits | other.bits];
  }

  /** The protection allowing only the accesses both allow. */
  public Prot intersection(Prot other) {
    return ALL_VALUES[bits & other.bits];
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Prot other && other.bits == bits;
  }

  @Override
  public int hashCode() {
    return bits;
  }

  /** mmap(2) style, e.g. {@code PROT_READ|PROT_WRITE} or {@code PROT_NONE}. */
  @Override
  public String toString() {
    if (bits == 0) {
      return "PROT_NONE";
    }
    StringBuilder sb = new StringBuilder();
    if (canRead()) {
      sb.append("PROT_READ");
    }
    if (canWrite()) {
      sb.append(sb.isEmpty() ? "" : "|").append("PROT_WRITE");
    }
    if (canExecute()) {
      sb.append(sb.isEmpty() ? "" : "|").append("PROT_EXEC");
    }
    return sb.toString();
  }
}
