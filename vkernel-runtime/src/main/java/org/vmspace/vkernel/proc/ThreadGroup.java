package org.vmspace.vkernel.proc;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.LongAdder;
import org.vmspace.vkernel.fs.FdTable;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.ProcView;
import org.vmspace.vkernel.mem.AddressSpace;
import org.vmspace.vkernel.signal.SigAction;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.Signals;

/**
 * A guest process: its ids, its place in the process tree, credentials, working directory,
 * descriptors, signal dispositions, address space and exit state.
 *
 * <p>Locking: fields documented "kernel lock" are guarded by {@link Kernel#lock}; the signal
 * state (dispositions, pending set, exit request) by the process's own monitor. The kernel lock
 * is never taken while holding a process monitor.
 */
public final class ThreadGroup implements ProcView.ProcInfo {
  final Kernel kernel;
  final int pid;
  /** Kernel lock. Null for a child of the virtual init (pid 1). */
  ThreadGroup parent;
  /** Kernel lock. */
  int pgid;
  /** Kernel lock. */
  int sid;
  /** Kernel lock. */
  final List<ThreadGroup> children = new ArrayList<>();
  /** Changed under the kernel lock; read without it (copy-on-write). */
  final List<Task> threads = new CopyOnWriteArrayList<>();
  /** Kernel lock: exited, not yet waited for. */
  boolean zombie;
  /** Kernel lock: its last thread has left and the kernel counts it as one task until it is reaped. */
  boolean countedAsExited;
  /** Kernel lock: the wait status (exit code << 8, or the signal number). */
  int waitStatus;
  /**
   * Set once the parent has been told of this process's exit (its exit signal posted): only
   * then may a wait see the zombie, as on Linux, where a child becomes a zombie and signals its
   * parent in one step. A parent woken from waitid must find SIGCHLD pending.
   */
  volatile boolean exitNotified;
  /** Kernel lock: whether it has called execve (setpgid on it then fails). */
  boolean execed;
  /** Kernel lock: the parent thread waiting in vfork until this child execs or exits, or null. */
  Task vforkParent;

  final int uid;
  final int gid;
  volatile String cwd = "/";
  volatile int umask = 022;
  volatile FdTable fds;
  volatile AddressSpace mm;
  volatile String exePath = "";
  volatile byte[] cmdline = new byte[0];
  volatile String comm = "";
  /** PR_SET_PDEATHSIG: the signal this process gets when its parent exits, or 0. */
  public volatile int pdeathSig;
  /**
   * PR_SET_CHILD_SUBREAPER: orphans among this process's descendants become its children rather
   * than init's (not inherited by fork, kept across execve).
   */
  public volatile boolean childSubreaper;
  /** PR_SET_DUMPABLE. */
  public volatile boolean dumpable = true;
  /** The signal sent to the parent at exit (SIGCHLD unless clone said otherwise). */
  volatile int exitSignal = Signals.SIGCHLD;
  final long startNanos = System.nanoTime();
  /** Resource limits (soft, hard) by resource number, as prlimit64 sees them. */
  final long[][] rlimits = Limits.defaults();

  // Signal state, guarded by this.
  private final SigAction[] actions = new SigAction[Signals.NSIG + 1];
  private long pending;
  private final SigInfo[] pendingInfo = new SigInfo[Signals.NSIG + 1];
  /** Set under this monitor, read without it: every blocked wait of every thread checks it. */
  private volatile boolean exiting;
  private int exitStatus;
  /** The signalfds this process watches (see {@link SignalFd}); changed without a lock. */
  final java.util.Set<SignalFd> signalFds = new java.util.concurrent.CopyOnWriteArraySet<>();
  /** The ITIMER_REAL timer (alarm, setitimer), or null. */
  ScheduledFuture<?> alarm;
  /** The RLIMIT_CPU sampler (see {@link CpuLimit}), or null. */
  ScheduledFuture<?> cpuTimer;
  /** The exited threads' CPU time, total and user (ns); see {@link #cpuTimes}. */
  private final LongAdder exitedCpu = new LongAdder();
  private final LongAdder exitedUser = new LongAdder();
  long alarmDeadline;
  long alarmInterval;

  ThreadGroup(Kernel kernel, int pid, int uid, int gid) {
    this.kernel = kernel;
    this.pid = pid;
    this.uid = uid;
    this.gid = gid;
    Arrays.fill(actions, SigAction.DEFAULT);
    kernel.stats.newProcess();
  }

  @Override
  public int pid() {
    return pid;
  }

  public Kernel kernel() {
    return kernel;
  }

  /** The address space (execve replaces it). */
  public AddressSpace mm() {
    return mm;
  }

  /** The descriptor table. */
  public FdTable fdTable() {
    return fds;
  }

  @Override
  public String cwd() {
    return cwd;
  }

  public void cwd(String path) {
    this.cwd = path;
  }

  public int umask() {
    return umask;
  }

  public void umask(int mask) {
    this.umask = mask & 0777;
  }

  public int uid() {
    return uid;
  }

  public int gid() {
    return gid;
  }

  /** The parent's pid (1, the virtual init, for orphans). */
  public int ppid() {
    kernel.lock.lock();
    try {
      return parent == null ? 1 : parent.pid;
    } finally {
      kernel.lock.unlock();
    }
  }

  public int pgid() {
    kernel.lock.lock();
    try {
      return pgid;
    } finally {
      kernel.lock.unlock();
    }
  }

  public int sid() {
    kernel.lock.lock();
    try {
      return sid;
    } finally {
      kernel.lock.unlock();
    }
  }

  public String comm() {
    return comm;
  }

  public void comm(String name) {
    this.comm = name.length() > 15 ? name.substring(0, 15) : name;
  }

  public long[] rlimit(int resource) {
    synchronized (rlimits) {
      return rlimits[resource].clone();
    }
  }

  /** Sets a limit (checked by the caller: see {@link Limits#checkChange}); the descriptor table follows RLIMIT_NOFILE. */
  public void rlimit(int resource, long soft, long hard) {
    synchronized (rlimits) {
      rlimits[resource] = new long[] {soft, hard};
    }
    FdTable t = fds;
    if (resource == Limits.RLIMIT_NOFILE && t != null) {
      t.limit(soft);
    }
  }

  /** The address space limits this process's rlimits set (read at each memory operation). */
  org.vmspace.vkernel.mem.AddressSpace.Rlimits memoryLimits() {
    return new org.vmspace.vkernel.mem.AddressSpace.Rlimits() {
      @Override
      public long addressSpace() {
        return softLimit(Limits.RLIMIT_AS);
      }

      @Override
      public long data() {
        return softLimit(Limits.RLIMIT_DATA);
      }
    };
  }

  /** The soft limit of {@code resource}. */
  public long softLimit(int resource) {
    synchronized (rlimits) {
      return rlimits[resource][0];
    }
  }

  // ---------------------------------------------------------------- signal dispositions

  public synchronized SigAction action(int sig) {
    return actions[sig];
  }

  /**
   * rt_sigaction: sets a disposition. Setting one that ignores the signal discards it if
   * pending (POSIX).
   */
  public void action(int sig, SigAction a) {
    List<Task> ts;
    synchronized (this) {
      actions[sig] = a;
      if (!a.ignores(sig)) {
        return;
      }
      pending &= ~Signals.bit(sig);
      pendingInfo[sig] = null;
    }
    ts = threadsSnapshot();
    for (Task t : ts) {
      t.signals().discardPending(sig);
    }
    signalsChanged();
  }

  /**
   * The pending signals of this process or one of its threads changed: the signalfds it watches
   * re-evaluate their readiness. Called without this process's monitor (see {@link SignalFd}).
   */
  void signalsChanged() {
    for (SignalFd s : signalFds) {
      s.refresh();
    }
  }

  /** The process has exited: its signalfds no longer watch it. */
  void unwatchSignalFds() {
    for (SignalFd s : signalFds) {
      signalFds.remove(s);
      s.unwatch(this);
    }
  }

  /** fork: the child gets copies of the dispositions. */
  void copyActionsTo(ThreadGroup child) {
    SigAction[] copy;
    synchronized (this) {
      copy = actions.clone();
    }
    synchronized (child) {
      System.arraycopy(copy, 0, child.actions, 0, copy.length);
    }
  }

  /** execve: handlers become SIG_DFL; ignored signals stay ignored. */
  synchronized void resetHandlersForExec() {
    for (int s = 1; s <= Signals.NSIG; s++) {
      if (actions[s].handler() != SigAction.SIG_IGN) {
        actions[s] = SigAction.DEFAULT;
      }
    }
  }

  // ---------------------------------------------------------------- process-directed signals

  /** Adds a process-directed pending signal; false if it was discarded. */
  synchronized boolean addPending(int sig, SigInfo info) {
    if (exiting) {
      return false;
    }
    if (sig != Signals.SIGKILL && actions[sig].ignores(sig) && !allThreadsBlock(sig)) {
      return false;
    }
    if ((pending & Signals.bit(sig)) == 0) {
      pendingInfo[sig] = info;
    }
    pending |= Signals.bit(sig);
    return true;
  }

  private boolean allThreadsBlock(int sig) {
    List<Task> ts = threadsSnapshot();
    if (ts.isEmpty()) {
      return false;
    }
    for (Task t : ts) {
      if ((t.signals().mask() & Signals.bit(sig)) == 0) {
        return false;
      }
    }
    return true;
  }

  /** The process-directed signals pending. */
  public synchronized long pending() {
    return pending;
  }

  /** Takes the lowest pending signal in {@code allowed}; its number, or 0. */
  synchronized int takePending(long allowed, SigInfo[] info) {
    long ready = pending & allowed;
    if (ready == 0) {
      return 0;
    }
    int sig = Long.numberOfTrailingZeros(ready) + 1;
    pending &= ~Signals.bit(sig);
    info[0] = pendingInfo[sig] != null ? pendingInfo[sig] : SigInfo.user(sig, 0, 0);
    pendingInfo[sig] = null;
    return sig;
  }

  // ---------------------------------------------------------------- exit

  /**
   * Starts the process's exit with {@code status} (a wait status): every thread stops at its
   * next opportunity. The first request wins.
   */
  public void requestExit(int status) {
    requestExit(status, true);
  }

  /**
   * As {@link #requestExit(int)}; with {@code wakeBlocked} false, a thread parked in a blocking
   * wait ({@link Blocker#isBlocked}) is left there, for the process's exit to end (see {@link
   * RunEnd}): only the threads that run are woken, or interrupted out of the guest.
   */
  void requestExit(int status, boolean wakeBlocked) {
    synchronized (this) {
      if (exiting) {
        return;
      }
      exiting = true;
      exitStatus = status;
    }
    for (Task t : threadsSnapshot()) {
      if (wakeBlocked || !t.blocker().isBlocked()) {
        t.blocker().wake(true);
      }
    }
  }

  public boolean exiting() {
    return exiting;
  }

  synchronized int exitStatus() {
    return exitStatus;
  }

  List<Task> threadsSnapshot() {
    return threads;
  }

  /**
   * The process's CPU time, total and user, in nanoseconds (as CLOCK_PROCESS_CPUTIME_ID,
   * RUSAGE_SELF and RLIMIT_CPU count it): its live threads' and, as Linux keeps them in the
   * signal struct, its exited threads'. Without a lock: the exited threads' sum is read before
   * the live ones, so a thread that exits meanwhile is missed once, never counted twice.
   */
  public long[] cpuTimes() {
    long total = exitedCpu.sum();
    long user = exitedUser.sum();
    for (Task t : threads) {
      long[] c = t.cpuTimes();
      total += c[0];
      user += c[1];
    }
    return new long[] {total, user};
  }

  /** Task {@code t} is ending (on its own thread): its CPU time stays the process's. */
  void retireCpu(Task t) {
    long[] c = t.retireCpu();
    exitedCpu.add(c[0]);
    exitedUser.add(c[1]);
  }

  // ---------------------------------------------------------------- ProcInfo

  @Override
  public List<Integer> tids() {
    List<Integer> out = new ArrayList<>();
    for (Task t : threads) {
      out.add(t.tid);
    }
    return out;
  }

  @Override
  public String exePath() {
    return exePath;
  }

  @Override
  public byte[] cmdline() {
    return cmdline;
  }

  private char state() {
    kernel.lock.lock();
    try {
      return zombie ? 'Z' : threads.stream().anyMatch(t -> t.blocker().isBlocked()) ? 'S' : 'R';
    } finally {
      kernel.lock.unlock();
    }
  }

  @Override
  public String statLine() {
    int ppid;
    int pg;
    int s;
    kernel.lock.lock();
    try {
      ppid = parent == null ? 1 : parent.pid;
      pg = pgid;
      s = sid;
    } finally {
      kernel.lock.unlock();
    }
    long startTicks = (startNanos - kernel.bootNanos) / 10_000_000L;
    AddressSpace m = mm;
    long vsize = 0;
    if (m != null) {
      for (AddressSpace.Region r : m.regions()) {
        vsize += r.end() - r.start();
      }
    }
    // Fields 1-52 of proc(5); times and counters the kernel does not keep are 0.
    return pid + " (" + comm + ") " + state() + " " + ppid + " " + pg + " " + s
        + " 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 " + startTicks + " " + vsize
        + " 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
  }

  @Override
  public String status() {
    int ppid = ppid();
    char st = state();
    String stateName = switch (st) {
      case 'Z' -> "Z (zombie)";
      case 'S' -> "S (sleeping)";
      default -> "R (running)";
    };
    return "Name:\t" + comm + "\nUmask:\t" + String.format("%04o", umask) + "\nState:\t" + stateName
        + "\nTgid:\t" + pid + "\nPid:\t" + pid + "\nPPid:\t" + ppid
        + "\nUid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid
        + "\nGid:\t" + gid + "\t" + gid + "\t" + gid + "\t" + gid + "\n" + signalStatus();
  }

  /** The Threads and Sig* lines of /proc/PID/status, for the first thread, as Linux prints them. */
  private String signalStatus() {
    List<Task> ts = threadsSnapshot();
    Task first = ts.isEmpty() ? null : ts.get(0);
    long ignored = 0;
    long caught = 0;
    synchronized (this) {
      for (int sig = 1; sig <= Signals.NSIG; sig++) {
        long handler = actions[sig].handler();
        if (handler == SigAction.SIG_IGN) {
          ignored |= Signals.bit(sig);
        } else if (handler != SigAction.SIG_DFL) {
          caught |= Signals.bit(sig);
        }
      }
    }
    return String.format("Threads:\t%d\nSigQ:\t%d/%d\nSigPnd:\t%016x\nShdPnd:\t%016x\nSigBlk:\t%016x\n"
        + "SigIgn:\t%016x\nSigCgt:\t%016x\n",
        Math.max(1, ts.size()), Long.bitCount(pending()) + (first == null ? 0 : Long.bitCount(first.signals().pendingOwn())),
        rlimit(Limits.RLIMIT_SIGPENDING)[0], first == null ? 0 : first.signals().pendingOwn(), pending(), first == null ? 0 : first.signals().mask(),
        ignored, caught);
  }

  @Override
  public String maps() {
    AddressSpace m = mm;
    return m == null ? "" : m.maps();
  }

  @Override
  public Map<Integer, FileDescription> fds() {
    FdTable t = fds;
    return t == null ? Map.of() : t.snapshot();
  }

  @Override
  public String toString() {
    return "process " + pid + " (" + comm + ")";
  }
}
