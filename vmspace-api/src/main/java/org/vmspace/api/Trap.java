package org.vmspace.api;

/**
 * The {@code trapno} values a run reports in {@link TrapFrame#trapno()}: DragonFly's x86_64
 * {@code T_*} codes, and the x86 exception vector each one stands for.
 *
 * <p>The values are DragonFly's, not the x86 vector numbers: {@code #GP} (vector 13) is {@link
 * #T_PROTFLT} (9), {@code #PF} (vector 14) is {@link #T_PAGEFLT} (12). {@link #forVector(int)}
 * converts.
 */
public final class Trap {
  /** Interrupted: a timeout expired or another thread asked the run to stop. */
  public static final int T_NONE = 0;
  /** {@code #UD}: invalid or privileged-only opcode. */
  public static final int T_PRIVINFLT = 1;
  /** {@code #BP}: {@code int3}. */
  public static final int T_BPTFLT = 3;
  /** {@code #MF}: x87 floating-point error. */
  public static final int T_ARITHTRAP = 6;
  /** {@code #GP}: general protection, including privileged instructions and port I/O. */
  public static final int T_PROTFLT = 9;
  /** {@code #DB}: single step or debug trap. */
  public static final int T_TRCTRAP = 10;
  /** {@code #PF}: a page fault the service could not resolve. */
  public static final int T_PAGEFLT = 12;
  /** {@code #AC}: alignment check. */
  public static final int T_ALIGNFLT = 14;
  /** {@code #DE}: divide error. */
  public static final int T_DIVIDE = 18;
  /** NMI. */
  public static final int T_NMI = 19;
  /** {@code #OF}: {@code into}. */
  public static final int T_OFLOW = 20;
  /** {@code #BR}: {@code bound}. */
  public static final int T_BOUND = 21;
  /** {@code #NM}: device not available. */
  public static final int T_DNA = 22;
  /** {@code #DF}: double fault. */
  public static final int T_DOUBLEFLT = 23;
  /** Coprocessor segment overrun (vector 9). */
  public static final int T_FPOPFLT = 24;
  /** {@code #TS}: invalid TSS. */
  public static final int T_TSSFLT = 25;
  /** {@code #NP}: segment not present. */
  public static final int T_SEGNPFLT = 26;
  /** {@code #SS}: stack fault. */
  public static final int T_STKFLT = 27;
  /** {@code #MC}: machine check. */
  public static final int T_MCHK = 28;
  /** {@code #XM}: SIMD floating-point exception. */
  public static final int T_XMMFLT = 29;
  /** Any other vector (reserved, {@code #VE}, {@code #CP}, ...). */
  public static final int T_RESERVED = 30;
  /** The guest executed {@code syscall}. */
  public static final int T_FAST_SYSCALL = 0x81;

  /** Bits of the {@code #PF} error code reported in {@link TrapFrame#err()}. */
  public static final int PF_PRESENT = 0x1;
  /** The access was a write. */
  public static final int PF_WRITE = 0x2;
  /** The access came from user mode (always set for guest faults). */
  public static final int PF_USER = 0x4;
  /** A reserved bit was set in a page-table entry. */
  public static final int PF_RSVD = 0x8;
  /** The access was an instruction fetch. */
  public static final int PF_INSTR = 0x10;

  /** The instruction length of {@code syscall}, reported in {@code err} of a syscall trap. */
  public static final int SYSCALL_INSN_LENGTH = 2;

  private static final int[] BY_VECTOR = {
    T_DIVIDE, T_TRCTRAP, T_NMI, T_BPTFLT, T_OFLOW, T_BOUND, T_PRIVINFLT, T_DNA,
    T_DOUBLEFLT, T_FPOPFLT, T_TSSFLT, T_SEGNPFLT, T_STKFLT, T_PROTFLT, T_PAGEFLT, T_RESERVED,
    T_ARITHTRAP, T_ALIGNFLT, T_MCHK, T_XMMFLT,
  };

  private Trap() {}

  /**
   * The {@code T_*} code for an x86 exception vector (0..31), as DragonFly's IDT stubs assign
   * them.
   *
   * @throws IllegalArgumentException if the vector is outside 0..31
   */
  public static int forVector(int vector) {
    if (vector < 0 || vector > 31) {
      throw new IllegalArgumentException("not an exception vector: " + vector);
    }
    return vector < BY_VECTOR.length ? BY_VECTOR[vector] : T_RESERVED;
  }

  /** Whether the x86 exception vector pushes an error code. */
  public static boolean vectorHasErrorCode(int vector) {
    return switch (vector) {
      case 8, 10, 11, 12, 13, 14, 17, 21, 29, 30 -> true;
      default -> false;
    };
  }

  /** The symbolic name of a trap code, e.g. {@code T_PAGEFLT}, or the number in hex. */
  public static String name(long trapno) {
    return switch ((int) trapno) {
      case T_NONE -> trapno == 0 ? "none" : hex(trapno);
      case T_PRIVINFLT -> "T_PRIVINFLT";
      case T_BPTFLT -> "T_BPTFLT";
      case T_ARITHTRAP -> "T_ARITHTRAP";
      case T_PROTFLT -> "T_PROTFLT";
      case T_TRCTRAP -> "T_TRCTRAP";
      case T_PAGEFLT -> "T_PAGEFLT";
      case T_ALIGNFLT -> "T_ALIGNFLT";
      case T_DIVIDE -> "T_DIVIDE";
      case T_NMI -> "T_NMI";
      case T_OFLOW -> "T_OFLOW";
      case T_BOUND -> "T_BOUND";
      case T_DNA -> "T_DNA";
      case T_DOUBLEFLT -> "T_DOUBLEFLT";
      case T_FPOPFLT -> "T_FPOPFLT";
      case T_TSSFLT -> "T_TSSFLT";
      case T_SEGNPFLT -> "T_SEGNPFLT";
      case T_STKFLT -> "T_STKFLT";
      case T_MCHK -> "T_MCHK";
      case T_XMMFLT -> "T_XMMFLT";
      case T_RESERVED -> "T_RESERVED";
      case T_FAST_SYSCALL -> "T_FAST_SYSCALL";
      default -> hex(trapno);
    };
  }

  private static String hex(long v) {
    return "0x" + Long.toHexString(v);
  }
}
