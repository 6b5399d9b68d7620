package org.vmspace.pagetest;

import org.vmspace.api.Trap;

/**
 * The bits of the {@code #PF} error code (SDM vol. 3A, 4.7), with the names Linux and
 * kvm-unit-tests use, and a rendering of a code. {@code faultsWith(PF_USER | PF_PROT)} reads as
 * "a user-mode fault on a present page".
 */
public final class ErrorCode {
  /** P: the fault was a protection violation on a present page (clear: a not-present page). */
  public static final int PF_PROT = Trap.PF_PRESENT;
  /** W/R: the access was a write. */
  public static final int PF_WRITE = Trap.PF_WRITE;
  /** U/S: the access was in user mode (always, for the kit's accesses). */
  public static final int PF_USER = Trap.PF_USER;
  /** RSVD: a reserved bit was set in an entry on the walk. */
  public static final int PF_RSVD = Trap.PF_RSVD;
  /** I/D: the access was an instruction fetch (reported with EFER.NXE on). */
  public static final int PF_INSTR = Trap.PF_INSTR;
  /** PK: a protection key denied the access. */
  public static final int PF_PK = 0x20;

  private ErrorCode() {}

  /** The code as names, e.g. {@code 0x7 (PROT|WRITE|USER)}. */
  public static String describe(long code) {
    StringBuilder sb = new StringBuilder();
    String[] names = {"PROT", "WRITE", "USER", "RSVD", "INSTR", "PK"};
    for (int i = 0; i < names.length; i++) {
      if ((code & (1L << i)) != 0) {
        sb.append(sb.isEmpty() ? "" : "|").append(names[i]);
      }
    }
    long rest = code & ~0x3FL;
    if (rest != 0) {
      sb.append(sb.isEmpty() ? "" : "|").append("0x").append(Long.toHexString(rest));
    }
    return "0x" + Long.toHexString(code) + " (" + (sb.isEmpty() ? "none" : sb) + ")";
  }
}
