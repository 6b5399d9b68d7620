package org.vmspace.vkernel.signal;

/** Linux x86-64 signal numbers, names and default actions. */
public final class Signals {
  public static final int SIGHUP = 1;
  public static final int SIGINT = 2;
  public static final int SIGQUIT = 3;
  public static final int SIGILL = 4;
  public static final int SIGTRAP = 5;
  public static final int SIGABRT = 6;
  public static final int SIGBUS = 7;
  public static final int SIGFPE = 8;
  public static final int SIGKILL = 9;
  public static final int SIGUSR1 = 10;
  public static final int SIGSEGV = 11;
  public static final int SIGUSR2 = 12;
  public static final int SIGPIPE = 13;
  public static final int SIGALRM = 14;
  public static final int SIGTERM = 15;
  public static final int SIGCHLD = 17;
  public static final int SIGCONT = 18;
  public static final int SIGSTOP = 19;
  public static final int SIGTSTP = 20;
  public static final int SIGTTIN = 21;
  public static final int SIGTTOU = 22;
  public static final int SIGURG = 23;
  public static final int SIGXCPU = 24;
  public static final int SIGXFSZ = 25;
  public static final int SIGWINCH = 28;
  public static final int SIGSYS = 31;
  public static final int NSIG = 64;

  /** What a signal does by default. */
  public enum Default {
    TERMINATE,
    CORE,
    IGNORE,
    STOP
  }

  private static final String[] NAMES = {
    "0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
    "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
    "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
    "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
  };

  private Signals() {}

  public static String name(int sig) {
    return sig > 0 && sig < NAMES.length ? NAMES[sig] : sig >= 32 && sig <= NSIG ? "SIGRT_" + (sig - 32) : "signal " + sig;
  }

  public static Default defaultAction(int sig) {
    return switch (sig) {
      case SIGCHLD, SIGCONT, SIGURG, SIGWINCH -> Default.IGNORE;
      case SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU -> Default.STOP;
      case SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGXCPU, SIGXFSZ, SIGSYS -> Default.CORE;
      default -> Default.TERMINATE;
    };
  }

  /** The bit of a signal in a 64-bit mask. */
  public static long bit(int sig) {
    return 1L << (sig - 1);
  }

  /** Signals that can be neither caught, blocked nor ignored. */
  public static final long UNBLOCKABLE = bit(SIGKILL) | bit(SIGSTOP);
}
