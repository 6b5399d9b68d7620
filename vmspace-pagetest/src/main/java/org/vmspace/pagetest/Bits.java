package org.vmspace.pagetest;

import org.vmspace.kvm.paging.Pte;

/**
 * The bits of an x86-64 4-level page-table entry (Intel SDM vol. 3A, tables 4-14 to 4-20; AMD
 * APM vol. 2, 5.4), as {@code long} masks to OR together, and a readable rendering of an entry.
 *
 * <p>Every constant is one bit; the same bit means different things at different levels where
 * the SDM says so: bit 7 is {@link #PS} in a PDPTE or PDE and {@link #PAT} in a PTE; in a 2 MiB
 * or 1 GiB leaf the PAT bit is {@link #PAT_LARGE} (bit 12). The class only names bits; it
 * checks nothing about where they are used (a test may set any bit anywhere, reserved ones
 * included). The bits the service itself uses are its own {@link Pte} constants.
 */
public final class Bits {
  /** Present. */
  public static final long P = Pte.P;
  /** Read/write: writes allowed. */
  public static final long RW = Pte.RW;
  /** User/supervisor: user-mode accesses allowed. */
  public static final long US = Pte.US;
  /** Page-level write-through. */
  public static final long PWT = Pte.PWT;
  /** Page-level cache disable. */
  public static final long PCD = Pte.PCD;
  /** Accessed. */
  public static final long A = Pte.A;
  /** Dirty (leaves only; ignored in entries that point to a table). */
  public static final long D = Pte.D;
  /** Page size: the PDPTE or PDE is a 1 GiB or 2 MiB leaf (reserved in a PML4E). */
  public static final long PS = Pte.PS;
  /** PAT in a PTE (the same bit as {@link #PS}). */
  public static final long PAT = 1L << 7;
  /** Global (leaves only). */
  public static final long G = Pte.G;
  /** PAT in a 2 MiB or 1 GiB leaf. */
  public static final long PAT_LARGE = 1L << 12;
  /** Execute-disable (with EFER.NXE; reserved without it). */
  public static final long NX = Pte.NX;
  /** The protection-key field of a leaf, bits 62:59. */
  public static final long PKEY_MASK = 0xFL << 59;
  /** The physical-address field of an entry, bits 51:12 (the most any processor has). */
  public static final long ADDRESS_MASK = Pte.ADDRESS_MASK;

  private Bits() {}

  /**
   * Protection key {@code key} in bits 62:59.
   *
   * @throws IllegalArgumentException if {@code key} is not in 0..15
   */
  public static long pkey(int key) {
    if (key < 0 || key > 15) {
      throw new IllegalArgumentException("protection key " + key + " is not in 0..15");
    }
    return (long) key << 59;
  }

  /**
   * Bit {@code n} alone: for reserved bits (e.g. {@code bit(51)}, reserved below MAXPHYADDR 52)
   * and the ones software may use (52..58).
   *
   * @throws IllegalArgumentException if {@code n} is not in 0..63
   */
  public static long bit(int n) {
    if (n < 0 || n > 63) {
      throw new IllegalArgumentException("bit " + n + " is not in 0..63");
    }
    return 1L << n;
  }

  /**
   * The entry as text: its address field in hex and its flags by name, e.g. {@code
   * 0x3000[P RW US A]}, with other set bits as {@code b51} and the key as {@code pkey=3}. Bit 7
   * is shown as {@code PS/PAT}: which one it is depends on the level.
   */
  public static String describe(long entry) {
    StringBuilder sb = new StringBuilder("0x").append(Long.toHexString(entry & ADDRESS_MASK)).append('[');
    String[] names = {"P", "RW", "US", "PWT", "PCD", "A", "D", "PS/PAT", "G"};
    boolean first = true;
    for (int i = 0; i < names.length; i++) {
      if ((entry & (1L << i)) != 0) {
        sb.append(first ? "" : " ").append(names[i]);
        first = false;
      }
    }
    long other = entry & ~(ADDRESS_MASK | 0x1FFL | PKEY_MASK | NX);
    for (int i = 9; i < 64; i++) {
      if ((other & (1L << i)) != 0) {
        sb.append(first ? "" : " ").append('b').append(i);
        first = false;
      }
    }
    if ((entry & PKEY_MASK) != 0) {
      sb.append(first ? "" : " ").append("pkey=").append((entry & PKEY_MASK) >>> 59);
      first = false;
    }
    if ((entry & NX) != 0) {
      sb.append(first ? "" : " ").append("NX");
    }
    return sb.append(']').toString();
  }
}
