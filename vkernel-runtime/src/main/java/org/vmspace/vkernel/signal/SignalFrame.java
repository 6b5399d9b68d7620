package org.vmspace.vkernel.signal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.vmspace.api.TrapFrame;

/**
 * The x86-64 {@code struct rt_sigframe} Linux pushes on the user stack to run a handler, and
 * reads back in rt_sigreturn:
 *
 * <pre>
 *   0   pretcode         the handler's return address (sa_restorer)
 *   8   struct ucontext  uc_flags, uc_link, uc_stack (24 bytes), uc_mcontext (sigcontext, 256
 *                        bytes, at +40), uc_sigmask (8 bytes, at +296)
 *   312 siginfo_t        128 bytes
 * </pre>
 *
 * The handler is entered with {@code rsp} at {@code pretcode} (so {@code rsp + 8} is 16-byte
 * aligned, as after a call), {@code rdi} the signal, {@code rsi} the siginfo and {@code rdx} the
 * ucontext. The x87/SSE state is not in the frame ({@code fpstate} is NULL): the kernel keeps
 * the interrupted code's vector registers with the guest thread and the handler starts with
 * fresh ones, as Linux's handlers do.
 */
public final class SignalFrame {
  /** The size of the frame. */
  public static final int SIZE = 440;
  /** Offset of the ucontext in the frame. */
  public static final int UCONTEXT = 8;
  /** Offset of the sigcontext in the frame. */
  public static final int MCONTEXT = UCONTEXT + 40;
  /** Offset of the saved signal mask in the frame. */
  public static final int SIGMASK = UCONTEXT + 296;
  /** Offset of the siginfo in the frame. */
  public static final int SIGINFO = UCONTEXT + 304;
  /** The stack below the interrupted rsp the frame must not touch (the ABI's red zone). */
  public static final int RED_ZONE = 128;
  /** {@code uc_flags} as Linux sets them (no extended FPU state: fpstate is NULL). */
  private static final long UC_SIGCONTEXT_SS = 0x2;
  private static final long UC_STRICT_RESTORE_SS = 0x4;

  // struct sigcontext, relative to MCONTEXT
  private static final int SC_R8 = 0;
  private static final int SC_RDI = 64;
  private static final int SC_RSI = 72;
  private static final int SC_RBP = 80;
  private static final int SC_RBX = 88;
  private static final int SC_RDX = 96;
  private static final int SC_RAX = 104;
  private static final int SC_RCX = 112;
  private static final int SC_RSP = 120;
  private static final int SC_RIP = 128;
  private static final int SC_EFLAGS = 136;
  private static final int SC_CS = 144;
  private static final int SC_SS = 150;
  private static final int SC_ERR = 152;
  private static final int SC_TRAPNO = 160;
  private static final int SC_OLDMASK = 168;
  private static final int SC_CR2 = 176;
  private static final int SC_FPSTATE = 184;

  private SignalFrame() {}

  /**
   * Where the frame goes for a handler: below the red zone of {@code rsp} (or at the top of the
   * alternate stack), aligned so that the handler sees {@code rsp + 8} 16-byte aligned.
   */
  public static long placement(long rsp, boolean onAltStack, long altTop) {
    long top = onAltStack ? altTop : rsp - RED_ZONE;
    return ((top - SIZE) & ~15L) - 8;
  }

  /**
   * The frame's bytes.
   *
   * @param f the interrupted registers
   * @param restorer where the handler returns (rt_sigreturn's trampoline in the C library)
   * @param savedMask the signal mask to restore on return
   * @param altStack {@code ss_sp, ss_flags, ss_size} of the alternate stack
   */
  public static byte[] build(TrapFrame f, long restorer, long savedMask, SigInfo info, long[] altStack) {
    ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(0, restorer);
    b.putLong(UCONTEXT, UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS);
    b.putLong(UCONTEXT + 8, 0); // uc_link
    b.putLong(UCONTEXT + 16, altStack[0]);
    b.putInt(UCONTEXT + 24, (int) altStack[1]);
    b.putLong(UCONTEXT + 32, altStack[2]);
    int m = MCONTEXT;
    long[] r8to15 = {f.r8(), f.r9(), f.r10(), f.r11(), f.r12(), f.r13(), f.r14(), f.r15()};
    for (int i = 0; i < 8; i++) {
      b.putLong(m + SC_R8 + 8 * i, r8to15[i]);
    }
    b.putLong(m + SC_RDI, f.rdi());
    b.putLong(m + SC_RSI, f.rsi());
    b.putLong(m + SC_RBP, f.rbp());
    b.putLong(m + SC_RBX, f.rbx());
    b.putLong(m + SC_RDX, f.rdx());
    b.putLong(m + SC_RAX, f.rax());
    b.putLong(m + SC_RCX, f.rcx());
    b.putLong(m + SC_RSP, f.rsp());
    b.putLong(m + SC_RIP, f.rip());
    b.putLong(m + SC_EFLAGS, f.rflags());
    b.putShort(m + SC_CS, (short) f.cs());
    b.putShort(m + SC_SS, (short) f.ss());
    b.putLong(m + SC_ERR, f.err());
    b.putLong(m + SC_TRAPNO, f.trapno());
    b.putLong(m + SC_OLDMASK, savedMask);
    b.putLong(m + SC_CR2, info.addr());
    b.putLong(m + SC_FPSTATE, 0);
    b.putLong(SIGMASK, savedMask);
    b.put(SIGINFO, info.toBytes());
    return b.array();
  }

  /**
   * rt_sigreturn: puts the registers of a frame back into {@code f} (the service sanitizes
   * segment selectors and flags on the next run, so a forged frame gains nothing) and returns
   * the signal mask to restore.
   */
  public static long restore(byte[] frame, TrapFrame f) {
    ByteBuffer b = ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN);
    int m = MCONTEXT;
    f.r8(b.getLong(m)).r9(b.getLong(m + 8)).r10(b.getLong(m + 16)).r11(b.getLong(m + 24))
        .r12(b.getLong(m + 32)).r13(b.getLong(m + 40)).r14(b.getLong(m + 48)).r15(b.getLong(m + 56));
    f.rdi(b.getLong(m + SC_RDI)).rsi(b.getLong(m + SC_RSI)).rbp(b.getLong(m + SC_RBP))
        .rbx(b.getLong(m + SC_RBX)).rdx(b.getLong(m + SC_RDX)).rax(b.getLong(m + SC_RAX))
        .rcx(b.getLong(m + SC_RCX)).rsp(b.getLong(m + SC_RSP)).rip(b.getLong(m + SC_RIP));
    // Only the flags a user may change; the service forces the rest.
    f.rflags(b.getLong(m + SC_EFLAGS));
    return b.getLong(SIGMASK);
  }
}
