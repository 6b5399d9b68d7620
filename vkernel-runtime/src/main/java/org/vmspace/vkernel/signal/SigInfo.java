package org.vmspace.vkernel.signal;

/**
 * What a handler learns about its signal ({@code siginfo_t}, 128 bytes): the number, the code,
 * and the union's first fields (pid and uid, or the faulting address, or a child's status).
 */
public record SigInfo(int signo, int code, int pid, int uid, long addr, int status) {
  public static final int SI_USER = 0;
  public static final int SI_KERNEL = 0x80;
  public static final int SI_TKILL = -6;
  public static final int CLD_EXITED = 1;
  public static final int CLD_KILLED = 2;
  public static final int CLD_DUMPED = 3;
  public static final int SEGV_MAPERR = 1;
  public static final int SEGV_ACCERR = 2;

  public static SigInfo user(int signo, int pid, int uid) {
    return new SigInfo(signo, SI_USER, pid, uid, 0, 0);
  }

  public static SigInfo fault(int signo, int code, long addr) {
    return new SigInfo(signo, code, 0, 0, addr, 0);
  }

  /** The 128-byte siginfo_t. */
  public byte[] toBytes() {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(128).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    b.putInt(0, signo);
    b.putInt(4, 0); // si_errno
    b.putInt(8, code);
    if (signo == Signals.SIGSEGV || signo == Signals.SIGBUS || signo == Signals.SIGILL
        || signo == Signals.SIGFPE || signo == Signals.SIGTRAP) {
      b.putLong(16, addr); // si_addr
    } else {
      b.putInt(16, pid);
      b.putInt(20, uid);
      if (signo == Signals.SIGCHLD) {
        b.putInt(24, status);
      }
    }
    return b.array();
  }
}
