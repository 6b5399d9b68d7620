package org.vmspace.kvm.ioctl;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@code struct kvm_sregs} (312 bytes) and its {@code struct kvm_segment} (24 bytes) and {@code
 * struct kvm_dtable} (16 bytes) members. Offsets are relative to the struct; accessors take the
 * struct's base so that they serve the sync-regs copy inside {@code kvm_run} too.
 */
public final class KvmSregs {
  public static final long SIZE = 312;
  public static final long CS = 0;
  public static final long DS = 24;
  public static final long ES = 48;
  public static final long FS = 72;
  public static final long GS = 96;
  public static final long SS = 120;
  public static final long TR = 144;
  public static final long LDT = 168;
  public static final long GDT = 192;
  public static final long IDT = 208;
  public static final long CR0 = 224;
  public static final long CR2 = 232;
  public static final long CR3 = 240;
  public static final long CR4 = 248;
  public static final long CR8 = 256;
  public static final long EFER = 264;
  public static final long APIC_BASE = 272;
  public static final long INTERRUPT_BITMAP = 280;

  // kvm_segment members
  public static final long SEG_BASE = 0;
  public static final long SEG_LIMIT = 8;
  public static final long SEG_SELECTOR = 12;
  public static final long SEG_TYPE = 14;
  public static final long SEG_PRESENT = 15;
  public static final long SEG_DPL = 16;
  public static final long SEG_DB = 17;
  public static final long SEG_S = 18;
  public static final long SEG_L = 19;
  public static final long SEG_G = 20;
  public static final long SEG_AVL = 21;
  public static final long SEG_UNUSABLE = 22;

  // kvm_dtable members
  public static final long DT_BASE = 0;
  public static final long DT_LIMIT = 8;

  private KvmSregs() {}

  /** Reads a 64-bit field (a control register, EFER, a segment base). */
  public static long getLong(MemorySegment s, long base, long offset) {
    return s.get(ValueLayout.JAVA_LONG, base + offset);
  }

  /** Writes a 64-bit field. */
  public static void setLong(MemorySegment s, long base, long offset, long value) {
    s.set(ValueLayout.JAVA_LONG, base + offset, value);
  }

  /**
   * Writes a whole {@code kvm_segment} at {@code base + seg}.
   *
   * @param type the descriptor type (11 = execute/read accessed code, 3 = read/write accessed
   *     data, 11 for a busy 64-bit TSS)
   */
  public static void setSegment(
      MemorySegment s,
      long base,
      long seg,
      long segBase,
      int limit,
      int selector,
      int type,
      int dpl,
      boolean codeOrData,
      boolean longMode,
      boolean defaultBig,
      boolean granularity) {
    long at = base + seg;
    s.set(ValueLayout.JAVA_LONG, at + SEG_BASE, segBase);
    s.set(ValueLayout.JAVA_INT, at + SEG_LIMIT, limit);
    s.set(ValueLayout.JAVA_SHORT, at + SEG_SELECTOR, (short) selector);
    s.set(ValueLayout.JAVA_BYTE, at + SEG_TYPE, (byte) type);
    s.set(ValueLayout.JAVA_BYTE, at + SEG_PRESENT, (byte) 1);
    s.set(ValueLayout.JAVA_BYTE, at + SEG_DPL, (byte) dpl);
    s.set(ValueLayout.JAVA_BYTE, at + SEG_DB, (byte) (defaultBig ? 1 : 0));
    s.set(ValueLayout.JAVA_BYTE, at + SEG_S, (byte) (codeOrData ? 1 : 0));
    s.set(ValueLayout.JAVA_BYTE, at + SEG_L, (byte) (longMode ? 1 : 0));
    s.set(ValueLayout.JAVA_BYTE, at + SEG_G, (byte) (granularity ? 1 : 0));
    s.set(ValueLayout.JAVA_BYTE, at + SEG_AVL, (byte) 0);
    s.set(ValueLayout.JAVA_BYTE, at + SEG_UNUSABLE, (byte) 0);
  }

  /**
   * Makes the segment at {@code base + seg} a null, unusable one: selector 0, base 0, limit 0,
   * not present. For the LDTR this means no local descriptor table: every selector with TI set
   * is then {@code #GP(selector)} instead of a descriptor read at linear {@code base + index}.
   */
  public static void setUnusable(MemorySegment s, long base, long seg) {
    long at = base + seg;
    s.asSlice(at, 24).fill((byte) 0);
    s.set(ValueLayout.JAVA_BYTE, at + SEG_UNUSABLE, (byte) 1);
  }

  /** The selector of the segment at {@code base + seg}. */
  public static int selector(MemorySegment s, long base, long seg) {
    return Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT, base + seg + SEG_SELECTOR));
  }

  /** The descriptor privilege level of the segment at {@code base + seg}. */
  public static int dpl(MemorySegment s, long base, long seg) {
    return s.get(ValueLayout.JAVA_BYTE, base + seg + SEG_DPL);
  }

  /** Writes a descriptor table register (GDT or IDT). */
  public static void setTable(MemorySegment s, long base, long table, long tableBase, int limit) {
    s.set(ValueLayout.JAVA_LONG, base + table + DT_BASE, tableBase);
    s.set(ValueLayout.JAVA_SHORT, base + table + DT_LIMIT, (short) limit);
  }
}
