package org.vmspace.kvm.ioctl;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@code struct kvm_regs} (144 bytes): the general registers in KVM's order. Static accessors
 * over a segment, so the same code reads a standalone struct and the sync-regs copy inside
 * {@code kvm_run}.
 */
public final class KvmRegs {
  public static final long SIZE = 144;
  public static final long RAX = 0;
  public static final long RBX = 8;
  public static final long RCX = 16;
  public static final long RDX = 24;
  public static final long RSI = 32;
  public static final long RDI = 40;
  public static final long RSP = 48;
  public static final long RBP = 56;
  public static final long R8 = 64;
  public static final long R9 = 72;
  public static final long R10 = 80;
  public static final long R11 = 88;
  public static final long R12 = 96;
  public static final long R13 = 104;
  public static final long R14 = 112;
  public static final long R15 = 120;
  public static final long RIP = 128;
  public static final long RFLAGS = 136;

  private KvmRegs() {}

  /** Reads the register at {@code offset} of the struct at {@code base} in {@code s}. */
  public static long get(MemorySegment s, long base, long offset) {
    return s.get(ValueLayout.JAVA_LONG, base + offset);
  }

  /** Writes the register at {@code offset} of the struct at {@code base} in {@code s}. */
  public static void set(MemorySegment s, long base, long offset, long value) {
    s.set(ValueLayout.JAVA_LONG, base + offset, value);
  }
}
