package org.vmspace.kvm.paging;

import org.vmspace.api.Prot;

/** The x86-64 page-table entry format (4-level paging, NXE on). */
public final class Pte {
  public static final long P = 1L;
  public static final long RW = 1L << 1;
  public static final long US = 1L << 2;
  public static final long PWT = 1L << 3;
  public static final long PCD = 1L << 4;
  public static final long A = 1L << 5;
  public static final long D = 1L << 6;
  /** Page size: a 2 MiB (level 2) or 1 GiB (level 3) leaf. */
  public static final long PS = 1L << 7;
  public static final long G = 1L << 8;
  public static final long NX = 1L << 63;
  /** The physical-address bits of an entry (52-bit physical addresses). */
  public static final long ADDRESS_MASK = 0x000F_FFFF_FFFF_F000L;
  /** Entries per table. */
  public static final int ENTRIES = 512;
  /** The flags of an entry that points to a lower-level table: the leaf decides permissions. */
  public static final long TABLE_FLAGS = P | RW | US | A;

  private Pte() {}

  /** Whether the entry is present. */
  public static boolean isPresent(long pte) {
    return (pte & P) != 0;
  }

  /** The physical address an entry points to (a table or a 4 KiB frame). */
  public static long address(long pte) {
    return pte & ADDRESS_MASK;
  }

  /**
   * Whether {@code to} only widens the present leaf {@code from}: the same frame, page size and
   * caching, present, and no right of {@code from} (write, user, execute) missing. A vCPU that
   * still caches {@code from} after it is replaced by {@code to} holds a narrower translation,
   * which can cost a spurious fault and nothing else.
   */
  public static boolean widens(long from, long to) {
    long same = ADDRESS_MASK | P | PS | PWT | PCD | G;
    return isPresent(from)
        && (from & same) == (to & same)
        && (from & (RW | US) & ~to) == 0
        && (to & NX & ~from) == 0;
  }

  /**
   * A present user leaf for a 4 KiB frame with a protection: readable always, writable with
   * {@code PROT_WRITE}, executable only with {@code PROT_EXEC} (NX otherwise). The accessed bit
   * (and the dirty bit for writable pages) is preset so the guest never has to set it.
   *
   * @throws IllegalArgumentException for {@link Prot#NONE}, which has no present leaf
   */
  public static long userLeaf(long frame, Prot prot) {
    if (prot.bits() == 0) {
      throw new IllegalArgumentException("PROT_NONE has no present page-table entry");
    }
    long pte = (frame & ADDRESS_MASK) | P | US | A;
    if (prot.canWrite()) {
      pte |= RW | D;
    }
    if (!prot.canExecute()) {
      pte |= NX;
    }
    return pte;
  }

  /** The index of {@code va} in the table of {@code level} (4 = PML4 ... 1 = PT). */
  public static int index(long va, int level) {
    return (int) ((va >>> (12 + 9 * (level - 1))) & 511);
  }

  /** The bytes one entry of a table at {@code level} covers. */
  public static long span(int level) {
    return 1L << (12 + 9 * (level - 1));
  }

  /** Whether {@code va} is canonical for 48-bit virtual addresses. */
  public static boolean isCanonical(long va) {
    return (va << 16 >> 16) == va;
  }

  /** The entry as text, e.g. {@code 0x1234000[P RW US NX]}. */
  public static String toString(long pte) {
    StringBuilder sb = new StringBuilder("0x").append(Long.toHexString(address(pte))).append('[');
    sb.append(isPresent(pte) ? "P" : "-");
    if ((pte & RW) != 0) {
      sb.append(" RW");
    }
    if ((pte & US) != 0) {
      sb.append(" US");
    }
    if ((pte & PS) != 0) {
      sb.append(" PS");
    }
    if ((pte & NX) != 0) {
      sb.append(" NX");
    }
    return sb.append(']').toString();
  }
}
