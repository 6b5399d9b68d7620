package org.vmspace.vkernel.proc;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.concurrent.RejectedExecutionException;
import org.vmspace.api.Errno;
import org.vmspace.api.RunResult;
import org.vmspace.api.Trap;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceException;
import org.vmspace.vkernel.mem.AddressSpace;
import org.vmspace.vkernel.signal.SigInfo;
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
 * <p>This class is the thread's identity (its tid, process, registers, affinity, the futex words
 * its exit clears) and that loop, as gVisor's {@code task.go} and {@code task_run.go}. Its parts
 * live in one class each: {@link SignalState} (the blocked and pending signals), {@link
 * SignalDelivery} (handler frames, sigaltstack, rt_sigreturn, system-call restart), {@link
 * Blocker} (blocking waits and wake-ups) and {@link FaultSignals} (the signal for a trap).
 *
 * <p>Every blocking wait of a system call goes through {@link Blocker#await}, which polls the host
 * descriptor it waits for together with the thread's own eventfd; posting a signal writes that
 * eventfd (and interrupts a running guest), so a blocked call returns promptly with {@code
 * ERESTARTSYS} and the signal is delivered on the way back to the guest.
 */
public final class Task implements Runnable {
  private static final ThreadLocal<Task> CURRENT = new ThreadLocal<>();
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  final ThreadGroup process;
  /** The thread id; an exec from another thread makes it the group's pid (Linux's de_thread). */
  volatile int tid;
  private final Kernel kernel;
  /** The guest's registers; this thread's alone. */
  public final TrapFrame frame = new TrapFrame();
  private final SignalState signals;
  private final SignalDelivery delivery;
  private final Blocker blocker;

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

  /** This thread's system-call counts (its own thread writes them; the kernel sums them). */
  private final SyscallCounters counters;
  private volatile Thread javaThread;
  /**
   * The carrier's CPU time, total and user (ns), when this task started on it: a carrier runs
   * task after task, so a task's own time is what the carrier used since. Written before {@link
   * #javaThread} is published, read after it.
   */
  private long cpuBase;
  private long userBase;
  /** Its loop has ended, or it was discarded without running: it runs no more guest code or call. */
  private volatile boolean loopEnded;
  /** The task ended: its time went to its process's exited threads' (see {@link #retireCpu}). */
  private volatile boolean cpuRetired;

  Task(Kernel kernel, ThreadGroup process, int tid) {
    this.kernel = kernel;
    this.process = process;
    this.tid = tid;
    this.signals = new SignalState(this, process);
    this.delivery = new SignalDelivery(this, process);
    this.affinity = kernel.cpuMask();
    this.blocker = new Blocker(this);
    this.counters = kernel.stats.newTask();
    kernel.end.taskMade(); // last: a task that failed to be made is not counted
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
    blocker.wake(true);
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

  /** set_tid_address(2). */
  public void clearTid(long addr) {
    clearTid = addr;
  }

  /** This thread's CPU affinity mask (never empty). */
  public long affinity() {
    return affinity;
  }

  /** Sets the CPU affinity mask; the caller has checked that it holds an online CPU. */
  public void affinity(long mask) {
    affinity = mask;
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
    return delivery.vext();
  }

  /** Which signals this thread blocks and has pending. */
  public SignalState signals() {
    return signals;
  }

  /** Signal delivery, sigaltstack, rt_sigreturn and system-call restart: this thread's only. */
  public SignalDelivery delivery() {
    return delivery;
  }

  /** How this thread blocks in a system call and is woken. */
  public Blocker blocker() {
    return blocker;
  }

  /**
   * Starts the loop on one of the kernel's carrier threads. Carriers outlive guest threads, so a
   * new process runs on a Java thread whose vCPU binding (and its timer and signal setup) is
   * already made.
   *
   * @throws SyscallError EAGAIN if no carrier is idle and the host makes no new thread (at its
   *     thread or memory limit: Linux's clone says EAGAIN there too); the task then never ran,
   *     and its caller takes it out of the tables and {@link #discard}s it
   */
  void start(String name) {
    try {
      execute(name);
    } catch (OutOfMemoryError | RejectedExecutionException e) {
      throw new SyscallError(LinuxErrno.EAGAIN, "no host thread for " + name + ": " + e.getMessage());
    }
  }

  /** Frees what a task that never started holds (its wake eventfd, its counters' place). */
  void discard() {
    loopEnded = true;
    blocker.close();
    kernel.stats.taskEnded(counters);
    kernel.end.taskEnded();
  }

  private void execute(String name) {
    kernel.carriers.execute(() -> {
      Thread self = Thread.currentThread();
      String carrierName = self.getName();
      self.setName(name);
      cpuBase = Math.max(0, THREADS.getCurrentThreadCpuTime());
      userBase = Math.max(0, THREADS.getCurrentThreadUserTime());
      javaThread = self;
      try {
        run();
      } finally {
        // The carrier goes on to other tasks: this one no longer interrupts or counts it.
        javaThread = null;
        self.setName(carrierName);
      }
    });
  }

  Thread javaThread() {
    return javaThread;
  }

  /** Whether its loop has ended (or it was discarded unstarted). */
  boolean loopEnded() {
    return loopEnded;
  }

  /**
   * This thread's CPU time so far, total and user, in nanoseconds (as CLOCK_THREAD_CPUTIME_ID and
   * RUSAGE_THREAD count it): the host's count for its carrier since the task started on it,
   * guest code in KVM_RUN included; zero once it ended (its process keeps the time).
   */
  public long[] cpuTimes() {
    Thread j = javaThread;
    if (j == null || cpuRetired) {
      return new long[2];
    }
    long total;
    long user;
    if (j == Thread.currentThread()) {
      total = THREADS.getCurrentThreadCpuTime();
      user = THREADS.getCurrentThreadUserTime();
    } else {
      total = THREADS.getThreadCpuTime(j.threadId());
      user = THREADS.getThreadUserTime(j.threadId());
    }
    // -1: the thread is gone (or the JVM cannot measure it).
    return new long[] {total < 0 ? 0 : Math.max(0, total - cpuBase), user < 0 ? 0 : Math.max(0, user - userBase)};
  }

  /** The task is ending (on its own thread): its CPU time, which it no longer reports. */
  long[] retireCpu() {
    long[] c = cpuTimes();
    cpuRetired = true;
    return c;
  }

  // ---------------------------------------------------------------- the loop

  @Override
  public void run() {
    CURRENT.set(this);
    blocker.open();
    try {
      loop();
    } catch (Throwable t) {
      kernel.internalError(this, t);
      process.requestExit(Signals.SIGKILL);
    } finally {
      try {
        TaskExit.threadExited(this);
      } finally {
        blocker.close();
        CURRENT.remove();
        kernel.stats.taskEnded(counters);
        loopEnded = true;
        kernel.end.taskEnded(); // last: the end of a run waits for it
      }
    }
  }

  private void loop() {
    int busyRetries = 0;
    while (delivery.deliverSignals()) {
      AddressSpace mm = process.mm;
      RunResult r;
      try {
        r = kernel.vms.run(mm.id(), frame, delivery.vext(), null);
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
          blocker.await(-1, (short) 0, System.nanoTime() + 1_000_000, true);
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

  /** Turns a guest fault into the signal Linux sends for it, forced through blocking and SIG_IGN. */
  private void fault() {
    SigInfo info = FaultSignals.forTrap(frame, process.mm);
    long trapno = frame.trapno();
    if (kernel.trace != null) {
      // Where it happened, which the siginfo line does not say: for reading a guest's crash.
      kernel.trace.event(tid, String.format("fault: trap %d err 0x%x at rip 0x%x (addr 0x%x, rsp 0x%x)",
          trapno, frame.err(), frame.rip(), frame.addr(), frame.rsp()));
    }
    counters.faultSignal(trapno == Trap.T_PAGEFLT);
    signals.forceSignal(info.signo(), info);
  }

  @Override
  public String toString() {
    return "thread " + tid + " of " + process;
  }
}
