package org.vmspace.vkernel.proc;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.vmspace.vkernel.stats.KernelStats;
import java.util.concurrent.locks.ReentrantLock;
import org.vmspace.api.Backing;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceService;
import org.vmspace.vkernel.elf.ElfLoader;
import org.vmspace.vkernel.elf.Vdso;
import org.vmspace.vkernel.fs.FdTable;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.ProcView;
import org.vmspace.vkernel.fs.Stat;
import org.vmspace.vkernel.fs.Vfs;
import org.vmspace.vkernel.fs.VirtualFs;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.ipc.IpcNamespace;
import org.vmspace.vkernel.net.UnixNamespace;
import org.vmspace.vkernel.mem.AddressSpace;
import org.vmspace.vkernel.signal.SigAction;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.PathBytes;
import org.vmspace.vkernel.sys.SyscallError;
import org.vmspace.vkernel.trace.Trace;

/**
 * A virtual kernel: runs Linux x86-64 programs in vmspaces and emulates their system calls.
 *
 * <p>{@link #run} starts a program as the first process (pid 2; pid 1 is a virtual init that
 * adopts and reaps orphans) and returns its exit status when it exits; processes it leaves
 * behind are then killed, as when the init of a pid namespace exits. One kernel runs one
 * program at a time; it owns the vmspaces it creates in the service it is given, not the
 * service.
 *
 * <p>Thread-safe. Each guest thread is a Java platform thread; the kernel lock ({@link #lock})
 * guards the process table and tree.
 */
public final class Kernel implements ProcView, AutoCloseable {
  /** What a run ended with. */
  public record Exit(int waitStatus, boolean timedOut) {
    /** The exit code, or 0 if a signal ended the process. */
    public int code() {
      return (waitStatus & 0x7f) == 0 ? (waitStatus >> 8) & 0xff : 0;
    }

    /** The signal that ended the process, or 0 if it exited. */
    public int signal() {
      return waitStatus & 0x7f;
    }

    /** The status a shell reports: the exit code, or 128 plus the signal. */
    public int shellStatus() {
      return signal() != 0 ? 128 + signal() : code();
    }
  }

  private static final int PID_MAX = 4_194_304;

  /** The kernel lock: the process table, the tree, process groups, zombies. */
  final ReentrantLock lock = new ReentrantLock();
  final VmspaceService vms;
  final Vfs vfs;
  final KernelConfig config;
  final SyscallTable syscalls;
  final Trace trace;
  final Futexes futexes = new Futexes();
  /** System calls per number and faults turned into signals, of every task (vkernel run --stats). */
  final KernelStats stats = new KernelStats();
  /** The memory all the guests' private writable mappings are committed against (--memory). */
  final org.vmspace.vkernel.mem.MemoryBudget memory;
  /** The System V IPC namespace: queues, semaphore sets and segments of all the guest processes. */
  final IpcNamespace ipc = new IpcNamespace(size -> vms().createMemoryObject(size), this::attaches);
  /** The AF_UNIX names (abstract and bound paths) and descriptors in flight, of this kernel only. */
  final UnixNamespace unix = new UnixNamespace();
  final long bootNanos = System.nanoTime();
  final FileCache files;
  /** The vDSO's page, mapped copy-on-write into every process. */
  final MemoryObject vdso;
  final Map<Integer, ThreadGroup> processes = new HashMap<>();
  /** Every live task by thread id (a thread group's first task has the group's pid). */
  final Map<Integer, Task> tasks = new HashMap<>();
  /** How a run ends: the tasks still live, and killing every process at once. */
  final RunEnd end = new RunEnd(this);
  /** Kernel lock: the processes in the table whose threads have all left ({@link #lastThreadLeft}). */
  private int exitedUnreaped;
  private final AtomicLong nextVmspace = new AtomicLong(1);
  private final java.util.concurrent.atomic.AtomicBoolean unrunnableReported =
      new java.util.concurrent.atomic.AtomicBoolean();
  private final SecureRandom random = new SecureRandom();
  final ScheduledExecutorService timers;
  /** The Java threads guest threads run on (see {@link Task#start}). */
  final java.util.concurrent.ExecutorService carriers;
  private final int hostUid = Host.getuid();
  private final int hostGid = Host.getgid();
  private int nextPid = 2;
  int foregroundPgrp;
  ThreadGroup main;
  CompletableFuture<Integer> mainExit;

  /**
   * @param vms the service whose vmspaces the guests run in (not closed by the kernel)
   * @param config the root, limits, trace and other settings
   * @param syscalls makes the system call table for this kernel (normally {@code Syscalls::new}
   *     from the {@code syscall} package)
   * @throws IllegalArgumentException if the root or /tmp directory cannot be opened
   */
  public Kernel(VmspaceService vms, KernelConfig config, java.util.function.Function<Kernel, ? extends SyscallTable> syscalls) {
    this(vms, config, syscalls, Thread.ofPlatform().daemon(true).name("vk-carrier-", 1).factory());
  }

  /**
   * As the public constructor, with the factory of the carrier threads (a test's may refuse to
   * make one, as a host at its thread limit does).
   */
  Kernel(VmspaceService vms, KernelConfig config, java.util.function.Function<Kernel, ? extends SyscallTable> syscalls,
      java.util.concurrent.ThreadFactory carrierThreads) {
    this.carriers = Executors.newCachedThreadPool(carrierThreads);
    this.vms = vms;
    this.config = config;
    this.memory = new org.vmspace.vkernel.mem.MemoryBudget(config.memory());
    this.vfs = new Vfs(config.root(), config.rootWritable(), config.tmp(), this);
    this.trace = config.trace() == null ? null : new Trace(config.trace());
    this.syscalls = syscalls.apply(this);
    this.files = new FileCache(vms, 256);
    this.vdso = vms.createMemoryObject(Vdso.SIZE);
    MemorySegment.copy(MemorySegment.ofArray(Vdso.image()), 0, vdso.segment(), 0, Vdso.SIZE);
    this.timers = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon(true).name("vk-timers").unstarted(r));
  }

  public VmspaceService vms() {
    return vms;
  }

  /**
   * The system-call counts of every task this kernel ran (always kept: a clock read before and
   * after each call and two array stores); the exits of their vmspaces are the service's
   * {@code exitStatistics()}.
   */
  public KernelStats.Snapshot statistics() {
    return stats.snapshot();
  }

  public Vfs vfs() {
    return vfs;
  }

  public KernelConfig config() {
    return config;
  }

  /** The trace, or null when tracing is off. */
  public Trace trace() {
    return trace;
  }

  /** When the kernel started ({@link System#nanoTime()}). */
  public long bootNanos() {
    return bootNanos;
  }

  public Futexes futexes() {
    return futexes;
  }

  public IpcNamespace ipc() {
    return ipc;
  }

  /** The AF_UNIX namespace of this kernel's guests. */
  public UnixNamespace unix() {
    return unix;
  }

  /**
   * How many attaches of {@code memory} (a shared memory segment's) the guest processes have:
   * its mappings in every address space, the adjacent pieces of one attach (split by mprotect,
   * say) counted once. Takes the kernel lock, then each address space's.
   */
  private long attaches(Backing memory) {
    List<AddressSpace> spaces = new ArrayList<>();
    lock.lock();
    try {
      for (ThreadGroup p : processes.values()) {
        AddressSpace mm = p.mm;
        if (mm != null && spaces.stream().noneMatch(s -> s == mm)) {
          spaces.add(mm);
        }
      }
    } finally {
      lock.unlock();
    }
    long n = 0;
    for (AddressSpace mm : spaces) {
      AddressSpace.Region previous = null;
      for (AddressSpace.Region r : mm.regions()) {
        boolean continues = previous != null && previous.backing() == memory && previous.end() == r.start()
            && previous.offset() + (previous.end() - previous.start()) == r.offset();
        if (r.backing() == memory && !continues) {
          n++;
        }
        previous = r;
      }
    }
    return n;
  }

  /** Random bytes (getrandom, AT_RANDOM, /dev/urandom is the host's). */
  public void randomBytes(byte[] b) {
    random.nextBytes(b);
  }

  // ---------------------------------------------------------------- running a program

  /**
   * Runs {@code program} with {@code argv} and {@code envp} as the first process and waits for
   * it to exit.
   *
   * @param program the guest path of the executable (resolved in the guest's root), as text: the
   *     guest sees its UTF-8 bytes, as every other string here
   * @param cwd the guest's working directory, as text
   * @param stdio descriptors 0, 1 and 2 (references the kernel takes over)
   * @param timeout how long the program may run, or null; on expiry every process is killed
   * @throws SyscallError if the program cannot be executed (ENOENT, EACCES, ENOEXEC ...)
   * @throws IllegalStateException if a program is already running
   */
  public Exit run(String program, List<String> argv, List<String> envp, String cwd, FileDescription[] stdio,
      Duration timeout) throws InterruptedException {
    ThreadGroup p;
    Task t;
    lock.lock();
    try {
      if (main != null) {
        throw new IllegalStateException("a program is already running in this kernel");
      }
      p = new ThreadGroup(this, allocatePid(), hostUid, hostGid);
      p.pgid = p.pid;
      p.sid = p.pid;
      foregroundPgrp = p.pid;
      p.cwd = PathBytes.fromText(cwd);
      Limits.copy(Limits.defaults(config.files(), config.pids()), p.rlimits);
      FdTable fds = new FdTable();
      fds.limit(p.softLimit(Limits.RLIMIT_NOFILE));
      for (int i = 0; i < stdio.length; i++) {
        if (stdio[i] != null) {
          fds.installAt(stdio[i], i, false);
        }
      }
      p.fds = fds;
      t = new Task(this, p, p.pid);
      p.threads.add(t);
      tasks.put(t.tid, t);
      processes.put(p.pid, p);
      main = p;
      mainExit = new CompletableFuture<>();
    } finally {
      lock.unlock();
    }
    try {
      TaskExec.execve(t, PathBytes.fromText(program), bytes(argv), bytes(envp));
    } catch (SyscallError e) {
      lock.lock();
      try {
        removeProcess(p.pid);
        tasks.remove(t.tid);
        p.threads.clear();
        main = null;
      } finally {
        lock.unlock();
      }
      t.discard();
      p.fds.release();
      if (p.mm != null) {
        p.mm.release();
      }
      throw e;
    }
    t.start("vk-" + p.pid);
    return awaitEnd(p, timeout);
  }

  /**
   * Waits for the first process {@code p} to exit (or for {@code timeout}, or for the kill of
   * every guest from outside), then kills what is left and waits for it (10 s at most: a thread
   * stuck in a host call is left behind). The status is {@code p}'s: how it exited, or, if it was
   * killed with everything else, what ended it.
   */
  private Exit awaitEnd(ThreadGroup p, Duration timeout) throws InterruptedException {
    // Not every task's end: one stuck in a host call must not keep a kill from ending the run.
    CompletableFuture<Object> ended = CompletableFuture.anyOf(mainExit, end.killed());
    boolean timedOut = false;
    try {
      if (timeout == null) {
        ended.get();
      } else {
        ended.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
      }
    } catch (TimeoutException e) {
      timedOut = true;
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    }
    end.killAll();
    boolean quiet = end.awaitQuiet(Duration.ofSeconds(10));
    int status = mainExit.isDone() ? mainExit.join() : p.exitStatus();
    end.tearDown(quiet);
    return new Exit(status, timedOut);
  }

  private static List<byte[]> bytes(List<String> strings) {
    List<byte[]> out = new ArrayList<>(strings.size());
    for (String s : strings) {
      out.add(s.getBytes(StandardCharsets.UTF_8));
    }
    return out;
  }

  /**
   * Kills every process (SIGKILL), whatever it blocks or ignores, and makes no new one until the
   * run is over; {@link #run} then returns (see {@link RunEnd}).
   */
  public void killAll() {
    end.killAll();
  }

  /** Whether a guest thread's loop has not ended (left parked by a kill: see {@link RunEnd}). */
  public boolean guestThreadsLeft() {
    return end.live() > 0;
  }

  /** Empties the process and task tables after a run (see {@link RunEnd#tearDown}). */
  void clearTables() {
    lock.lock();
    try {
      main = null;
      processes.clear();
      tasks.clear();
      exitedUnreaped = 0;
      end.reset();
    } finally {
      lock.unlock();
    }
  }

  /** Kills every guest and releases what the kernel holds (see {@link KernelConfig#exitsWithProcess}). */
  @Override
  public void close() {
    end.killAll();
    try {
      end.tearDown(end.awaitQuiet(Duration.ofSeconds(10)));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    timers.shutdownNow();
    if (!config.exitsWithProcess()) {
      // Interrupts every idle carrier, one by one: 0.5 s for 10^4 of them.
      carriers.shutdown();
      files.close();
      vdso.close();
    }
    vfs.close();
  }

  /** The number of files in the file cache. */
  long fileCacheSize() {
    return files.size();
  }

  /** The cache of privately mapped files (executables, interpreters, shared libraries). */
  public FileCache files() {
    return files;
  }

  // ---------------------------------------------------------------- process table

  /**
   * Whether {@code parent} may make one more task, as Linux's copy_process decides: EAGAIN when
   * the kernel already runs --pids tasks (the pids cgroup's rule, root included), or when the
   * user's tasks (every guest task has the first process's user) reach the caller's
   * RLIMIT_NPROC, unless the user is root (Linux lets INIT_USER and CAP_SYS_RESOURCE or
   * CAP_SYS_ADMIN through; a guest running as root has them). Under the kernel lock.
   *
   * <p>A process whose threads have all exited counts as one task until it is reaped, as in
   * Linux, where release_task gives back the user's count and the pids cgroup's charge: a
   * program that forks without waiting runs into the limit. (Counted by "no threads left", not
   * by the zombie flag, which is set a moment after the last thread leaves the task table.) The
   * count is a counter ({@link #taskCount}), not a scan: a fork bomb's forks stay O(1) each.
   *
   * @throws SyscallError EAGAIN
   */
  void checkTaskLimits(ThreadGroup parent) {
    Limits.checkNewTask(taskCount(), config.pids(), parent.softLimit(Limits.RLIMIT_NPROC), parent.uid == 0);
  }

  /**
   * The tasks {@link #checkTaskLimits} counts, in constant time: every live task, and each
   * process in the table whose threads have all left (see {@link #lastThreadLeft}). Under the
   * kernel lock.
   */
  int taskCount() {
    return tasks.size() + exitedUnreaped;
  }

  /**
   * {@code p}'s last thread has left the task table (under the kernel lock, in the same critical
   * section): from now until {@link #removeProcess} takes it out of the process table, it counts
   * as one task.
   */
  void lastThreadLeft(ThreadGroup p) {
    if (!p.countedAsExited && processes.get(p.pid) == p) {
      p.countedAsExited = true;
      exitedUnreaped++;
    }
  }

  /**
   * Takes process {@code pid} out of the process table (it is reaped, or it never started), under
   * the kernel lock: a process counted by {@link #lastThreadLeft} stops counting.
   *
   * @return the process, or null if none had that pid
   */
  ThreadGroup removeProcess(int pid) {
    ThreadGroup p = processes.remove(pid);
    if (p != null && p.countedAsExited) {
      p.countedAsExited = false;
      exitedUnreaped--;
    }
    return p;
  }

  /** The commit budget of the guests' memory (--memory). */
  public org.vmspace.vkernel.mem.MemoryBudget memory() {
    return memory;
  }

  int allocatePid() {
    for (int tries = 0; tries < PID_MAX; tries++) {
      int pid = nextPid;
      nextPid = nextPid >= PID_MAX - 1 ? 2 : nextPid + 1;
      if (!processes.containsKey(pid) && !tasks.containsKey(pid) && !groupOrSessionInUse(pid)) {
        return pid;
      }
    }
    throw new SyscallError(LinuxErrno.EAGAIN, "no free pid");
  }

  private boolean groupOrSessionInUse(int id) {
    for (ThreadGroup p : processes.values()) {
      if (p.pgid == id || p.sid == id) {
        return true;
      }
    }
    return false;
  }

  VmspaceId newVmspaceId() {
    return VmspaceId.of(nextVmspace.getAndIncrement());
  }

  /** The live (non-zombie) process with this pid, or null. */
  public ThreadGroup process(int pid, boolean includeZombies) {
    lock.lock();
    try {
      ThreadGroup p = processes.get(pid);
      return p == null || (p.zombie && !includeZombies) ? null : p;
    } finally {
      lock.unlock();
    }
  }

  /** The live task with this thread id, or null. */
  public Task task(int tid) {
    lock.lock();
    try {
      return tasks.get(tid);
    } finally {
      lock.unlock();
    }
  }

  // ---------------------------------------------------------------- ProcView

  @Override
  public int selfPid() {
    Task t = Task.current();
    if (t != null) {
      return t.process.pid;
    }
    ThreadGroup m = main;
    return m == null ? 1 : m.pid;
  }

  @Override
  public int selfTid() {
    Task t = Task.current();
    return t != null ? t.tid : selfPid();
  }

  @Override
  public ProcInfo process(int pid) {
    return process(pid, true);
  }

  @Override
  public List<Integer> pids() {
    lock.lock();
    try {
      return processes.keySet().stream().sorted().toList();
    } finally {
      lock.unlock();
    }
  }

  /**
   * /proc/meminfo: the guests' memory is --memory, and what they have committed of it is in use
   * (the CommitLimit and Committed_AS lines say the same, as under strict overcommit).
   */
  @Override
  public String meminfo() {
    long total = config.memory() >> 10;
    long used = memory.committed() >> 10;
    long free = Math.max(0, total - used);
    return "MemTotal:       " + total + " kB\nMemFree:        " + free + " kB\nMemAvailable:   " + free
        + " kB\nBuffers:               0 kB\nCached:                0 kB\nSwapTotal:             0 kB\n"
        + "SwapFree:              0 kB\nCommitLimit:    " + total + " kB\nCommitted_AS:   " + used + " kB\n";
  }

  /** The CPUs the guests see, as an affinity mask: the first {@link KernelConfig#cpus()}. */
  public long cpuMask() {
    int n = config.cpus();
    return n == 64 ? -1L : (1L << n) - 1;
  }

  @Override
  public int cpus() {
    return config.cpus();
  }

  @Override
  public String cpuinfo() {
    return VirtualFs.cpuinfo(VirtualFs.hostCpuinfo(), config.cpus());
  }

  /**
   * Sends {@code sig} to the terminal's foreground process group (the first process's group
   * unless a shell changed it), as a terminal does for Ctrl-C; from outside the guests.
   */
  public void signalForeground(int sig) {
    TaskSignals.signalForeground(this, sig);
  }

  // ---------------------------------------------------------------- diagnostics

  /**
   * A guest thread's loop failed: a bug in the kernel (reported with its stack trace), or a
   * backend that cannot run guest code on this machine (one line, once). The process is killed.
   */
  void internalError(Task t, Throwable e) {
    PrintStream err = System.err;
    if (e instanceof org.vmspace.api.VmspaceException ve && ve.errno() == org.vmspace.api.Errno.EOPNOTSUPP) {
      // Not a bug: this machine's KVM cannot run guest code with this backend (yet).
      if (!unrunnableReported.getAndSet(true)) {
        err.println("vkernel: cannot run guest code here: " + ve.getMessage());
      }
      return;
    }
    synchronized (err) {
      err.println("vkernel: internal error in " + t + ": " + e);
      e.printStackTrace(err);
    }
  }
}
