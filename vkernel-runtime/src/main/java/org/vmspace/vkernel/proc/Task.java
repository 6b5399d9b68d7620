package org.vmspace.vkernel.proc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import org.vmspace.api.Errno;
import org.vmspace.api.Prot;
import org.vmspace.api.RunResult;
import org.vmspace.api.Trap;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceException;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.mem.AddressSpace;
import org.vmspace.vkernel.signal.SigAction;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.SignalFrame;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.stats.SyscallCounters;
import org.vmspace.vkernel.stats.SyscallEvent;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * A guest thread: a Java platform thread running DragonFly's user-return loop around {@code
 * ctl(RUN)}: deliver pending signals, run the guest until it makes a system call or faults,
 * handle that, repeat.
 *
 * <p>Every blocking wait of a system call goes through {@link #await}, which polls the host
 * descriptor it waits for together with the thread's own eventfd; posting a signal writes that
 * eventfd (and interrupts a running guest), so a blocked call returns promptly with {@code
 * ERESTARTSYS} and the signal is delivered on the way back to the guest.
 */
public final class Task implements Runnable {
  /** What {@link #await} saw. */
  public enum Wait {
    /** The host descriptor is ready. */
    READY,
    /** The thread was woken without a signal for it (a child exited, a futex was woken). */
    WOKEN,
    /** A signal is pending (or the process is exiting): the call should return. */
    SIGNAL,
    /** The deadline passed. */
    TIMEOUT
  }

  private static final ThreadLocal<Task> CURRENT = new ThreadLocal<>();
  /** Signal frames whose interrupted vector state is kept; deeper ones (siglongjmp) are dropped. */
  private static final int MAX_NESTED_HANDLERS = 64;
  public static final int SS_ONSTACK = 1;
  public static final int SS_DISABLE = 2;

  final ThreadGroup process;
  /** The thread id; an exec from another thread makes it the group's pid (Linux's de_thread). */
  volatile int tid;
  private final Kernel kernel;
  /** The guest's registers; this thread's alone. */
  public final TrapFrame frame = new TrapFrame();
  private VextFrame vext = new VextFrame();
  /** The vector state of the code each running signal handler interrupted, innermost first. */
  private final ArrayDeque<VextFrame> interrupted = new ArrayDeque<>();

  // Signal state, guarded by the process's monitor.
  private long mask;
  private long pending;
  private final SigInfo[] pendingInfo = new SigInfo[Signals.NSIG + 1];
  private long savedMask;
  private boolean hasSavedMask;

  /** This thread's CPU affinity mask (never empty). */
  public long affinity() {
    return affinity;
  }

  /** Sets the CPU affinity mask; the caller has checked that it holds an online CPU. */
  public void affinity(long mask) {
    affinity = mask;
  }

  /** sigaltstack: base, size and flags (SS_DISABLE when there is none). This thread only. */
  long altSp;
  long altSize;
  int altFlags = SS_DISABLE;
  /** CLONE_CHILD_CLEARTID / set_tid_address: zeroed and futex-woken at exit. */
  volatile long clearTid;
  /** set_robust_list: the head of the robust futex list (walked at exit), or 0. */
  volatile long robustList;
  /**
   * This task alone is ending (exit(2), or another thread's execve): set once, by the task
   * itself or under the kernel lock; the thread group goes on unless it was the last task.
   */
  private volatile boolean exitingAlone;
  /** The wait status exit(2) gave, used if this is the group's last task. */
  private volatile int exitStatus;
  /**
   * sched_setaffinity's CPU mask (bit n: CPU n, the first 64), inherited by clone; every online
   * CPU until set. Recorded and reported, not enforced: guest threads run on the host threads.
   */
  private volatile long affinity;
  /** A system call to restart (ERESTARTSYS or ERESTARTNOHAND) and its number. This thread only. */
  private int restart;
  private long restartNr;

  /** This thread's system-call counts (its own thread writes them; the kernel sums them). */
  private final SyscallCounters counters;
  private final int wakeFd;
  private final Object wakeLock = new Object();
  private boolean wakeClosed;
  private volatile Thread javaThread;
  private volatile boolean blocked;
  private volatile long waitingFor;
  private Arena arena;
  private MemorySegment pollFds;
  private MemorySegment wakeBuf;

  Task(Kernel kernel, ThreadGroup process, int tid) {
    this.kernel = kernel;
    this.process = process;
    this.tid = tid;
    this.affinity = kernel.cpuMask();
    int fd = Host.eventfd(0, 0x800 | 0x80000); // EFD_NONBLOCK | EFD_CLOEXEC
    if (fd < 0) {
      throw new SyscallError(LinuxErrno.EAGAIN, "eventfd: " + LinuxErrno.name(-fd));
    }
    this.wakeFd = fd;
    this.counters = kernel.stats.newTask();
  }

  /**
   * exit(2): ends this task only, with wait status {@code status} for the group if it is the
   * last one. The task stops at its next return to the loop.
   */
  public void exitAlone(int status) {
    exitStatus = status;
    exitingAlone = true;
  }

  /** Another task's execve ends this one (Linux's de_thread): stop at once, even if blocked. */
  void killedByExec() {
    exitingAlone = true;
    wake(true);
  }

  /** Whether this task is ending: alone, or with its whole group. */
  public boolean exiting() {
    return exitingAlone || process.exiting();
  }

  int exitStatus() {
    return exitStatus;
  }

  /** set_robust_list(2). */
  public void robustList(long head) {
    robustList = head;
  }

  /** get_robust_list(2). */
  public long robustList() {
    return robustList;
  }

  /** The guest thread the calling Java thread runs, or null. */
  public static Task current() {
    return CURRENT.get();
  }

  public ThreadGroup process() {
    return process;
  }

  public int tid() {
    return tid;
  }

  public Kernel kernel() {
    return kernel;
  }

  /** The vext frame the guest runs with now (a handler's while one runs). */
  public VextFrame vext() {
    return vext;
  }

  /** execve: a fresh vector state and no handler frames. */
  void resetVext() {
    vext = new VextFrame();
    interrupted.clear();
  }

  boolean isBlocked() {
    return blocked;
  }

  /**
   * Starts the loop on one of the kernel's carrier threads. Carriers outlive guest threads, so a
   * new process runs on a Java thread whose vCPU binding (and its timer and signal setup) is
   * already made.
   */
  void start(String name) {
    kernel.carriers.execute(() -> {
      Thread self = Thread.currentThread();
      String carrierName = self.getName();
      self.setName(name);
      javaThread = self;
      try {
        run();
      } finally {
        self.setName(carrierName);
      }
    });
  }

  Thread javaThread() {
    return javaThread;
  }

  // ---------------------------------------------------------------- the loop

  @Override
  public void run() {
    CURRENT.set(this);
    arena = Arena.ofConfined();
    pollFds = arena.allocate(16, 8);
    wakeBuf = arena.allocate(8, 8);
    try {
      loop();
    } catch (Throwable t) {
      kernel.internalError(this, t);
      process.requestExit(Signals.SIGKILL);
    } finally {
      try {
        TaskExit.threadExited(this);
      } finally {
        synchronized (wakeLock) {
          wakeClosed = true;
          Host.close(wakeFd);
        }
        arena.close();
        CURRENT.remove();
        kernel.stats.taskEnded(counters);
      }
    }
  }

  private void loop() {
    int busyRetries = 0;
    while (deliverSignals()) {
      AddressSpace mm = process.mm;
      RunResult r;
      try {
        r = kernel.vms.run(mm.id(), frame, vext, null);
        busyRetries = 0;
      } catch (VmspaceException e) {
        if (e.errno() != Errno.EAGAIN) {
          throw e;
        }
        // Every vCPU is running another guest thread (more threads than vCPUs, all busy): wait
        // for one, spinning first, then sleeping; signals and exits are still seen each round.
        if (busyRetries++ < 100) {
          Thread.onSpinWait();
        } else {
          await(-1, (short) 0, System.nanoTime() + 1_000_000, true);
        }
        continue;
      }
      switch (r) {
        case SYSCALL -> syscall();
        case PAGEFAULT, TRAP -> fault();
        case INTERRUPTED, TIMEOUT -> {
          // A signal was posted, or the process is exiting: the next round handles it.
        }
      }
    }
  }

  /**
   * Handles the system call in the frame, counting it with its handling time; a JFR event when
   * those are on. Nothing is allocated here while they are off: this is the hot path.
   */
  private void syscall() {
    long nr = frame.rax();
    SyscallEvent event = SyscallEvent.TYPE.isEnabled() ? new SyscallEvent() : null;
    if (event != null) {
      AddressSpace mm = process.mm;
      event.vmspace = mm == null ? 0 : mm.id().value();
      event.begin();
    }
    long start = System.nanoTime();
    kernel.syscalls.dispatch(this);
    counters.syscall(nr, System.nanoTime() - start);
    if (event != null) {
      event.end();
      event.pid = process.pid;
      event.tid = tid;
      event.number = nr;
      event.name = kernel.syscalls.name(nr);
      event.result = frame.rax();
      event.commit();
    }
  }

  // ---------------------------------------------------------------- faults

  /** Whether a mapping's protection allows the access a page fault's error code describes. */
  private static boolean permits(AddressSpace.Region r, long err) {
    int needed = (err & Trap.PF_WRITE) != 0 ? Prot.PROT_WRITE : (err & Trap.PF_INSTR) != 0 ? Prot.PROT_EXEC : Prot.PROT_READ;
    return (r.prot() & needed) != 0;
  }

  /** Turns a guest fault into the signal Linux sends for it, forced through blocking and SIG_IGN. */
  private void fault() {
    long trapno = frame.trapno();
    int sig;
    int code;
    long addr = frame.rip();
    switch ((int) trapno) {
      case Trap.T_PAGEFLT -> {
        addr = frame.addr();
        AddressSpace mm = process.mm;
        AddressSpace.Region r = mm == null ? null : mm.regionAt(addr);
        if (r != null && permits(r, frame.err()) && r.backing() != null && (frame.err() & Trap.PF_PRESENT) == 0) {
          // An allowed access to a file or memory object page the backend could not provide:
          // past the end of what backs the mapping (a short or truncated file).
          sig = Signals.SIGBUS;
          code = 2; // BUS_ADRERR
        } else {
          // As Linux: an address inside a mapping whose protection forbids the access is
          // SEGV_ACCERR (PROT_NONE included, present or not); outside every mapping SEGV_MAPERR.
          sig = Signals.SIGSEGV;
          code = r != null && !permits(r, frame.err()) || (frame.err() & Trap.PF_PRESENT) != 0
              ? SigInfo.SEGV_ACCERR : SigInfo.SEGV_MAPERR;
        }
      }
      case Trap.T_PRIVINFLT -> {
        sig = Signals.SIGILL;
        code = 2; // ILL_ILLOPN
      }
      case Trap.T_BPTFLT -> {
        sig = Signals.SIGTRAP;
        code = SigInfo.SI_KERNEL;
        addr = 0;
      }
      case Trap.T_TRCTRAP -> {
        sig = Signals.SIGTRAP;
        code = 2; // TRAP_TRACE
      }
      case Trap.T_DIVIDE -> {
        sig = Signals.SIGFPE;
        code = 1; // FPE_INTDIV
      }
      case Trap.T_ARITHTRAP, Trap.T_XMMFLT, Trap.T_FPOPFLT -> {
        sig = Signals.SIGFPE;
        code = 0;
      }
      case Trap.T_ALIGNFLT -> {
        sig = Signals.SIGBUS;
        code = 1; // BUS_ADRALN
      }
      default -> {
        // #GP, #SS, #NP, #TS, #OF, #BR, a double fault: Linux sends SIGSEGV with SI_KERNEL.
        sig = Signals.SIGSEGV;
        code = SigInfo.SI_KERNEL;
        addr = 0;
      }
    }
    if (kernel.trace != null) {
      // Where it happened, which the siginfo line does not say: for reading a guest's crash.
      kernel.trace.event(tid, String.format("fault: trap %d err 0x%x at rip 0x%x (addr 0x%x, rsp 0x%x)",
          trapno, frame.err(), frame.rip(), frame.addr(), frame.rsp()));
    }
    counters.faultSignal(trapno == Trap.T_PAGEFLT);
    forceSignal(sig, SigInfo.fault(sig, code, addr));
  }

  /** A synchronous signal: if blocked or ignored it is unblocked and reset to the default. */
  public void forceSignal(int sig, SigInfo info) {
    SigAction a = process.action(sig);
    synchronized (process) {
      if ((mask & Signals.bit(sig)) != 0 || a.handler() == SigAction.SIG_IGN) {
        mask &= ~Signals.bit(sig);
        a = null;
      }
      pending |= Signals.bit(sig);
      pendingInfo[sig] = info;
    }
    if (a == null) {
      process.action(sig, SigAction.DEFAULT);
    }
    process.signalsChanged();
  }

  // ---------------------------------------------------------------- signals

  public long mask() {
    synchronized (process) {
      return mask;
    }
  }

  /** Sets the blocked set (SIGKILL and SIGSTOP cannot be blocked). */
  public void mask(long newMask) {
    synchronized (process) {
      mask = newMask & ~Signals.UNBLOCKABLE;
    }
  }

  /**
   * rt_sigsuspend: the mask to restore after the handler the wait ends in (or at once if none
   * runs).
   */
  public void suspendMask(long temporary) {
    synchronized (process) {
      savedMask = mask;
      hasSavedMask = true;
      mask = temporary & ~Signals.UNBLOCKABLE;
    }
  }

  /** The thread-directed pending signals. */
  public long pendingOwn() {
    synchronized (process) {
      return pending;
    }
  }

  void discardPending(int sig) {
    synchronized (process) {
      pending &= ~Signals.bit(sig);
      pendingInfo[sig] = null;
    }
  }

  /** tgkill: posts a signal to this thread. */
  public void post(int sig, SigInfo info) {
    if (sig == Signals.SIGKILL) {
      process.requestExit(Signals.SIGKILL);
      return;
    }
    synchronized (process) {
      if (process.action(sig).ignores(sig) && (mask & Signals.bit(sig)) == 0) {
        return;
      }
      if ((pending & Signals.bit(sig)) == 0) {
        pendingInfo[sig] = info;
      }
      pending |= Signals.bit(sig);
    }
    process.signalsChanged();
    wake(true);
  }

  /**
   * Takes a pending signal in {@code set} for rt_sigtimedwait; its number or 0.
   */
  public int takeSignal(long set, SigInfo[] info) {
    int sig;
    synchronized (process) {
      long ready = pending & set;
      if (ready != 0) {
        sig = Long.numberOfTrailingZeros(ready) + 1;
        pending &= ~Signals.bit(sig);
        info[0] = pendingInfo[sig] != null ? pendingInfo[sig] : SigInfo.user(sig, 0, 0);
        pendingInfo[sig] = null;
      } else {
        sig = process.takePending(set, info);
      }
    }
    if (sig != 0) {
      process.signalsChanged();
    }
    return sig;
  }

  /** Whether a blocking call should give up: a signal it can take is pending, or the process exits. */
  public boolean signalPending() {
    synchronized (process) {
      return exiting() || ((pending | process.pending()) & ~mask) != 0;
    }
  }

  /** Wakes the thread from {@link #await} and, if asked, out of a running guest. */
  public void wake(boolean interruptGuest) {
    synchronized (wakeLock) {
      if (!wakeClosed) {
        try (Arena a = Arena.ofConfined()) {
          MemorySegment one = a.allocate(8, 8);
          one.set(ValueLayout.JAVA_LONG, 0, 1);
          Host.write(wakeFd, one, 8);
        }
      }
    }
    Thread t = javaThread;
    if (interruptGuest && t != null) {
      kernel.vms.interrupt(t);
    }
  }

  /**
   * Marks the system call just made for restart if a signal interrupts it: {@code code} is
   * {@link LinuxErrno#ERESTARTSYS} (restarted after a handler with SA_RESTART) or {@link
   * #ERESTARTNOHAND} (EINTR after any handler); without a handler it is always restarted.
   */
  public void restartAfterSignal(int code, long nr) {
    restart = code;
    restartNr = nr;
  }

  /** A system call interrupted by a handler returns EINTR (after one without a handler it is restarted). */
  public static final int ERESTARTNOHAND = 514;

  /**
   * Delivers the pending signals: runs default actions and sets up handler frames.
   *
   * @return false if the thread must stop (the process is exiting)
   */
  boolean deliverSignals() {
    SigInfo[] info = new SigInfo[1];
    while (true) {
      if (exiting()) {
        return false;
      }
      int sig;
      synchronized (process) {
        long allowed = ~mask | Signals.UNBLOCKABLE;
        long own = pending & allowed;
        if (own != 0) {
          sig = Long.numberOfTrailingZeros(own) + 1;
          pending &= ~Signals.bit(sig);
          info[0] = pendingInfo[sig] != null ? pendingInfo[sig] : SigInfo.user(sig, 0, 0);
          pendingInfo[sig] = null;
        } else {
          sig = process.takePending(allowed, info);
        }
      }
      if (sig == 0) {
        break;
      }
      process.signalsChanged();
      SigAction a = process.action(sig);
      if (sig == Signals.SIGKILL) {
        process.requestExit(Signals.SIGKILL);
        return false;
      }
      if (a.handler() == SigAction.SIG_IGN) {
        continue;
      }
      if (a.handler() == SigAction.SIG_DFL) {
        switch (Signals.defaultAction(sig)) {
          case IGNORE, STOP -> {
            continue;
          }
          case TERMINATE, CORE -> {
            TaskSignals.traceSignal(this, info[0]);
            process.requestExit(sig);
            return false;
          }
        }
      }
      TaskSignals.traceSignal(this, info[0]);
      if (!runHandler(sig, info[0], a)) {
        return false;
      }
    }
    if (restart != 0) {
      // No handler ran: the call is restarted transparently.
      frame.rip(frame.rip() - Trap.SYSCALL_INSN_LENGTH).rax(restartNr);
      restart = 0;
    }
    synchronized (process) {
      if (hasSavedMask) {
        mask = savedMask;
        hasSavedMask = false;
      }
    }
    return true;
  }

  /** Builds the handler's frame on the guest stack; false if that faulted and killed the process. */
  private boolean runHandler(int sig, SigInfo info, SigAction a) {
    if (restart != 0) {
      if (restart == LinuxErrno.ERESTARTSYS && (a.flags() & SigAction.SA_RESTART) != 0) {
        frame.rip(frame.rip() - Trap.SYSCALL_INSN_LENGTH).rax(restartNr);
      } else {
        frame.rax(-LinuxErrno.EINTR);
      }
      restart = 0;
    }
    long rsp = frame.rsp();
    boolean onAlt = altFlags != SS_DISABLE && (a.flags() & SigAction.SA_ONSTACK) != 0 && !onAltStack(rsp);
    long addr = SignalFrame.placement(rsp, onAlt, altSp + altSize);
    long saved;
    synchronized (process) {
      saved = hasSavedMask ? savedMask : mask;
      hasSavedMask = false;
    }
    long[] alt = {altSp, onAltStack(rsp) ? SS_ONSTACK : altFlags, altSize};
    byte[] bytes = SignalFrame.build(frame, a.restorer(), saved, info, alt);
    try {
      process.mm.memory().writeBytes(addr, bytes);
    } catch (SyscallError e) {
      // No room for the frame: Linux kills with SIGSEGV.
      TaskSignals.traceSignal(this, SigInfo.fault(Signals.SIGSEGV, SigInfo.SI_KERNEL, 0));
      process.requestExit(Signals.SIGSEGV);
      return false;
    }
    frame.rip(a.handler()).rsp(addr).rdi(sig).rsi(addr + SignalFrame.SIGINFO)
        .rdx(addr + SignalFrame.UCONTEXT).rax(0);
    // The handler runs with DF and TF clear, as Linux's do.
    frame.rflags(frame.rflags() & ~(0x400L | 0x100L));
    synchronized (process) {
      mask = (saved | a.mask() | ((a.flags() & SigAction.SA_NODEFER) != 0 ? 0 : Signals.bit(sig)))
          & ~Signals.UNBLOCKABLE;
    }
    if ((a.flags() & SigAction.SA_RESETHAND) != 0) {
      process.action(sig, SigAction.DEFAULT);
    }
    VextFrame handler = new VextFrame().fsBase(vext.fsBase()).gsBase(vext.gsBase());
    interrupted.push(vext);
    if (interrupted.size() > MAX_NESTED_HANDLERS) {
      interrupted.removeLast();
    }
    vext = handler;
    return true;
  }

  /** The sigaltstack: base, size and flags (SS_DISABLE when none). */
  public long[] altStack() {
    return new long[] {altSp, altSize, altFlags};
  }

  /** sigaltstack(2) with a new stack (or SS_DISABLE). */
  public void altStack(long sp, long size, int flags) {
    altSp = sp;
    altSize = size;
    altFlags = flags;
  }

  /** set_tid_address(2). */
  public void clearTid(long addr) {
    clearTid = addr;
  }

  /** The set of signals rt_sigtimedwait waits for (woken even when they are blocked). */
  public void waitingFor(long set) {
    waitingFor = set;
  }

  long waitingFor() {
    return waitingFor;
  }

  public boolean onAltStack(long sp) {
    return altFlags != SS_DISABLE && sp > altSp && sp <= altSp + altSize;
  }

  /**
   * rt_sigreturn: restores the registers and mask saved in the frame at {@code rsp - 8}.
   *
   * @throws SyscallError EFAULT if the frame is unreadable (the caller kills with SIGSEGV)
   */
  public void sigreturn() {
    long addr = frame.rsp() - 8;
    byte[] bytes = process.mm.memory().readBytes(addr, SignalFrame.SIZE);
    long restoredMask = SignalFrame.restore(bytes, frame);
    synchronized (process) {
      mask = restoredMask & ~Signals.UNBLOCKABLE;
    }
    VextFrame outer = interrupted.poll();
    if (outer != null) {
      // fs and gs bases are thread state, not restored by sigreturn.
      outer.fsBase(vext.fsBase()).gsBase(vext.gsBase());
      vext = outer;
    }
  }

  // ---------------------------------------------------------------- waiting

  /**
   * Waits until host descriptor {@code fd} (if not negative) has {@code events}, the thread is
   * woken, a signal is pending (if {@code interruptible}) or {@code deadline} (a {@link
   * System#nanoTime()} value, 0 for none) passes.
   */
  public Wait await(int fd, short events, long deadline, boolean interruptible) {
    blocked = true;
    try {
      while (true) {
        if (interruptible ? signalPending() : exiting()) {
          return Wait.SIGNAL;
        }
        pollFds.set(ValueLayout.JAVA_INT, 0, wakeFd);
        pollFds.set(ValueLayout.JAVA_SHORT, 4, Host.POLLIN);
        pollFds.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
        int n = 1;
        if (fd >= 0) {
          pollFds.set(ValueLayout.JAVA_INT, 8, fd);
          pollFds.set(ValueLayout.JAVA_SHORT, 12, events);
          pollFds.set(ValueLayout.JAVA_SHORT, 14, (short) 0);
          n = 2;
        }
        int timeoutMs = -1;
        if (deadline != 0) {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            return Wait.TIMEOUT;
          }
          timeoutMs = (int) Math.min(Integer.MAX_VALUE, (left + 999_999) / 1_000_000);
        }
        int r = Host.poll(pollFds, n, timeoutMs);
        if (r < 0) {
          if (-r == LinuxErrno.EINTR) {
            continue;
          }
          throw new SyscallError(-r, "poll");
        }
        if (r == 0) {
          continue;
        }
        boolean woken = pollFds.get(ValueLayout.JAVA_SHORT, 6) != 0;
        if (woken) {
          Host.read(wakeFd, wakeBuf, 8);
        }
        if (fd >= 0 && pollFds.get(ValueLayout.JAVA_SHORT, 14) != 0) {
          return Wait.READY;
        }
        if (woken) {
          if (interruptible ? signalPending() : exiting()) {
            return Wait.SIGNAL;
          }
          return Wait.WOKEN;
        }
      }
    } finally {
      blocked = false;
    }
  }

  /** Polls several host descriptors and the wake eventfd (for poll/select). See {@link #await}. */
  public Wait awaitMany(MemorySegment fds, int n, long deadline) {
    blocked = true;
    try (Arena a = Arena.ofConfined()) {
      MemorySegment all = a.allocate(8L * (n + 1), 8);
      MemorySegment.copy(fds, 0, all, 0, 8L * n);
      while (true) {
        if (signalPending()) {
          return Wait.SIGNAL;
        }
        all.set(ValueLayout.JAVA_INT, 8L * n, wakeFd);
        all.set(ValueLayout.JAVA_SHORT, 8L * n + 4, Host.POLLIN);
        all.set(ValueLayout.JAVA_SHORT, 8L * n + 6, (short) 0);
        int timeoutMs = -1;
        if (deadline != 0) {
          long left = deadline - System.nanoTime();
          timeoutMs = left <= 0 ? 0 : (int) Math.min(Integer.MAX_VALUE, (left + 999_999) / 1_000_000);
        }
        int r = Host.poll(all, n + 1, timeoutMs);
        if (r < 0) {
          if (-r == LinuxErrno.EINTR) {
            continue;
          }
          throw new SyscallError(-r, "poll");
        }
        boolean woken = all.get(ValueLayout.JAVA_SHORT, 8L * n + 6) != 0;
        if (woken) {
          Host.read(wakeFd, wakeBuf, 8);
          r--;
        }
        if (r > 0) {
          MemorySegment.copy(all, 0, fds, 0, 8L * n);
          return Wait.READY;
        }
        if (deadline != 0 && System.nanoTime() - deadline >= 0) {
          MemorySegment.copy(all, 0, fds, 0, 8L * n);
          return Wait.TIMEOUT;
        }
      }
    } finally {
      blocked = false;
    }
  }

  /** Sleeps until the deadline; SIGNAL if a signal cut it short. */
  public Wait sleepUntil(long deadline) {
    while (true) {
      Wait w = await(-1, (short) 0, deadline, true);
      if (w != Wait.WOKEN) {
        return w;
      }
    }
  }

  @Override
  public String toString() {
    return "thread " + tid + " of " + process;
  }
}
