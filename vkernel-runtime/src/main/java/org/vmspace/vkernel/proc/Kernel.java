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
import java.util.concurrent.locks.ReentrantLock;
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
import org.vmspace.vkernel.mem.AddressSpace;
import org.vmspace.vkernel.signal.SigAction;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.PathBytes;
import org.vmspace.vkernel.sys.SyscallError;
import org.vmspace.vkernel.syscall.Syscalls;
import org.vmspace.vkernel.syscall.Trace;

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
  private static final int MAX_EXEC_DEPTH = 4;
  private static final int MAX_ARGS = 1 << 17;

  /** The kernel lock: the process table, the tree, process groups, zombies. */
  final ReentrantLock lock = new ReentrantLock();
  final VmspaceService vms;
  final Vfs vfs;
  final KernelConfig config;
  final Syscalls syscalls;
  final Trace trace;
  final Futexes futexes = new Futexes();
  final long bootNanos = System.nanoTime();
  private final ImageCache images;
  /** The vDSO's page, mapped copy-on-write into every process. */
  private final MemoryObject vdso;
  private final Map<Integer, ThreadGroup> processes = new HashMap<>();
  private final AtomicLong nextVmspace = new AtomicLong(1);
  private final java.util.concurrent.atomic.AtomicBoolean unrunnableReported =
      new java.util.concurrent.atomic.AtomicBoolean();
  private final SecureRandom random = new SecureRandom();
  private final ScheduledExecutorService timers;
  /** The Java threads guest threads run on (see {@link Task#start}). */
  final java.util.concurrent.ExecutorService carriers = Executors.newCachedThreadPool(
      Thread.ofPlatform().daemon(true).name("vk-carrier-", 1).factory());
  private final int hostUid = Host.getuid();
  private final int hostGid = Host.getgid();
  private int nextPid = 2;
  private int foregroundPgrp;
  private ThreadGroup main;
  private CompletableFuture<Integer> mainExit;

  /**
   * @param vms the service whose vmspaces the guests run in (not closed by the kernel)
   * @throws IllegalArgumentException if the root or /tmp directory cannot be opened
   */
  public Kernel(VmspaceService vms, KernelConfig config) {
    this.vms = vms;
    this.config = config;
    this.vfs = new Vfs(config.root(), config.rootWritable(), config.tmp(), this);
    this.trace = config.trace() == null ? null : new Trace(config.trace());
    this.syscalls = new Syscalls(this);
    this.images = new ImageCache(vms, 64);
    this.vdso = vms.createMemoryObject(Vdso.SIZE);
    MemorySegment.copy(MemorySegment.ofArray(Vdso.image()), 0, vdso.segment(), 0, Vdso.SIZE);
    this.timers = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon(true).name("vk-timers").unstarted(r));
  }

  public VmspaceService vms() {
    return vms;
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
      FdTable fds = new FdTable();
      for (int i = 0; i < stdio.length; i++) {
        if (stdio[i] != null) {
          fds.installAt(stdio[i], i, false);
        }
      }
      p.fds = fds;
      t = new Task(this, p, p.pid);
      p.threads.add(t);
      processes.put(p.pid, p);
      main = p;
      mainExit = new CompletableFuture<>();
    } finally {
      lock.unlock();
    }
    try {
      execve(t, PathBytes.fromText(program), bytes(argv), bytes(envp));
    } catch (SyscallError e) {
      lock.lock();
      try {
        processes.remove(p.pid);
        p.threads.clear();
        main = null;
      } finally {
        lock.unlock();
      }
      p.fds.release();
      if (p.mm != null) {
        p.mm.release();
      }
      throw e;
    }
    t.start("vk-" + p.pid);
    boolean timedOut = false;
    int status;
    try {
      status = timeout == null ? mainExit.get() : mainExit.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      timedOut = true;
      killAll();
      status = awaitQuietly(mainExit);
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    }
    killAll();
    awaitAllThreads(Duration.ofSeconds(10));
    lock.lock();
    try {
      main = null;
      processes.clear();
    } finally {
      lock.unlock();
    }
    return new Exit(status, timedOut);
  }

  private static int awaitQuietly(CompletableFuture<Integer> f) throws InterruptedException {
    try {
      return f.get(10, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      return Signals.SIGKILL;
    }
  }

  private static List<byte[]> bytes(List<String> strings) {
    List<byte[]> out = new ArrayList<>(strings.size());
    for (String s : strings) {
      out.add(s.getBytes(StandardCharsets.UTF_8));
    }
    return out;
  }

  /** Kills every process (SIGKILL). */
  void killAll() {
    List<ThreadGroup> all;
    lock.lock();
    try {
      all = new ArrayList<>(processes.values());
    } finally {
      lock.unlock();
    }
    for (ThreadGroup p : all) {
      p.requestExit(Signals.SIGKILL);
    }
  }

  private void awaitAllThreads(Duration limit) throws InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    while (System.nanoTime() < deadline) {
      boolean any = false;
      lock.lock();
      try {
        for (ThreadGroup p : processes.values()) {
          if (!p.threads.isEmpty()) {
            any = true;
            break;
          }
        }
      } finally {
        lock.unlock();
      }
      if (!any) {
        return;
      }
      Thread.sleep(2);
    }
  }

  @Override
  public void close() {
    killAll();
    try {
      awaitAllThreads(Duration.ofSeconds(10));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    timers.shutdownNow();
    carriers.shutdown();
    images.close();
    vdso.close();
    vfs.close();
  }

  /** The number of executables in the image cache. */
  long imageCacheSize() {
    return images.size();
  }

  // ---------------------------------------------------------------- process table

  private int allocatePid() {
    for (int tries = 0; tries < PID_MAX; tries++) {
      int pid = nextPid;
      nextPid = nextPid >= PID_MAX - 1 ? 2 : nextPid + 1;
      if (!processes.containsKey(pid) && !groupOrSessionInUse(pid)) {
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

  private VmspaceId newVmspaceId() {
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

  @Override
  public String meminfo() {
    long total = 4L << 30 >> 10;
    long used = 0;
    lock.lock();
    try {
      for (ThreadGroup p : processes.values()) {
        AddressSpace m = p.mm;
        if (m != null) {
          for (AddressSpace.Region r : m.regions()) {
            used += (r.end() - r.start()) >> 10;
          }
        }
      }
    } finally {
      lock.unlock();
    }
    long free = Math.max(0, total - used);
    return "MemTotal:       " + total + " kB\nMemFree:        " + free + " kB\nMemAvailable:   " + free
        + " kB\nBuffers:               0 kB\nCached:                0 kB\nSwapTotal:             0 kB\n"
        + "SwapFree:              0 kB\n";
  }

  @Override
  public String cpuinfo() {
    return VirtualFs.hostCpuinfo();
  }

  // ---------------------------------------------------------------- fork

  /** clone(2) flags this kernel knows. */
  public static final long CLONE_VM = 0x100;
  public static final long CLONE_FS = 0x200;
  public static final long CLONE_FILES = 0x400;
  public static final long CLONE_SIGHAND = 0x800;
  public static final long CLONE_PIDFD = 0x1000;
  public static final long CLONE_PTRACE = 0x2000;
  public static final long CLONE_VFORK = 0x4000;
  public static final long CLONE_PARENT = 0x8000;
  public static final long CLONE_THREAD = 0x10000;
  public static final long CLONE_SYSVSEM = 0x40000;
  public static final long CLONE_SETTLS = 0x80000;
  public static final long CLONE_PARENT_SETTID = 0x100000;
  public static final long CLONE_CHILD_CLEARTID = 0x200000;
  public static final long CLONE_DETACHED = 0x400000;
  public static final long CLONE_UNTRACED = 0x800000;
  public static final long CLONE_CHILD_SETTID = 0x1000000;
  private static final long CLONE_SUPPORTED = 0xff | CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_VFORK
      | CLONE_PARENT | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID
      | CLONE_DETACHED | CLONE_UNTRACED | CLONE_CHILD_SETTID | CLONE_PTRACE;

  /**
   * clone(2) for new processes (fork, vfork and their clone spellings): the child gets a
   * copy-on-write copy of the address space (or shares it with CLONE_VM), copies of the
   * descriptors (or shares them with CLONE_FILES), of the dispositions and of the thread's
   * registers, with rax 0.
   *
   * @return the child's pid
   * @throws SyscallError EINVAL for flag combinations Linux refuses, ENOSYS for threads
   *     (CLONE_THREAD, CLONE_SIGHAND) which this kernel does not run yet, EAGAIN, ENOMEM
   */
  public int clone(Task t, long flags, long newSp, long parentTid, long childTid, long tls) {
    if ((flags & (CLONE_THREAD | CLONE_SIGHAND)) != 0) {
      if ((flags & CLONE_SIGHAND) != 0 && (flags & CLONE_VM) == 0
          || (flags & CLONE_THREAD) != 0 && (flags & CLONE_SIGHAND) == 0) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
      throw new SyscallError(LinuxErrno.ENOSYS, "threads (CLONE_THREAD) are not supported");
    }
    if ((flags & ~CLONE_SUPPORTED) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL, String.format("clone flags 0x%x", flags & ~CLONE_SUPPORTED));
    }
    ThreadGroup parent = t.process;
    ThreadGroup child;
    Task ct;
    AddressSpace mm;
    if ((flags & CLONE_VM) != 0) {
      mm = parent.mm.retain();
    } else {
      mm = parent.mm.fork(newVmspaceId());
    }
    lock.lock();
    try {
      int pid;
      try {
        pid = allocatePid();
      } catch (SyscallError e) {
        lock.unlock();
        try {
          mm.release();
        } finally {
          lock.lock();
        }
        throw e;
      }
      child = new ThreadGroup(this, pid, parent.uid, parent.gid);
      child.mm = mm;
      child.parent = (flags & CLONE_PARENT) != 0 ? parent.parent : parent;
      child.pgid = parent.pgid;
      child.sid = parent.sid;
      child.cwd = parent.cwd;
      child.umask = parent.umask;
      child.exePath = parent.exePath;
      child.cmdline = parent.cmdline;
      child.comm = parent.comm;
      child.exitSignal = (int) (flags & 0xff);
      child.fds = (flags & CLONE_FILES) != 0 ? parent.fds.share() : parent.fds.copy();
      Limits.copy(parent.rlimits, child.rlimits);
      parent.copyActionsTo(child);
      ct = new Task(this, child, pid);
      ct.frame.copyFrom(t.frame).rax(0);
      if (newSp != 0) {
        ct.frame.rsp(newSp);
      }
      ct.mask(t.mask());
      ct.affinity(t.affinity());
      ct.vext().fsBase((flags & CLONE_SETTLS) != 0 ? tls : t.vext().fsBase()).gsBase(t.vext().gsBase());
      ct.altSp = t.altSp;
      ct.altSize = t.altSize;
      ct.altFlags = t.altFlags;
      if ((flags & CLONE_CHILD_CLEARTID) != 0) {
        ct.clearTid = childTid;
      }
      child.threads.add(ct);
      if (child.parent != null) {
        child.parent.children.add(child);
      }
      if ((flags & CLONE_VFORK) != 0) {
        child.vforkParent = t;
      }
      processes.put(pid, child);
    } finally {
      lock.unlock();
    }
    vms.copyVectorState(t.vext(), ct.vext());
    if ((flags & CLONE_PARENT_SETTID) != 0) {
      writeTid(parent.mm, parentTid, child.pid);
    }
    if ((flags & CLONE_CHILD_SETTID) != 0) {
      writeTid(child.mm, childTid, child.pid);
    }
    if (trace != null) {
      trace.event(child.pid, "started by " + parent.pid);
    }
    ct.start("vk-" + child.pid);
    if ((flags & CLONE_VFORK) != 0) {
      awaitVforkRelease(t, child);
    }
    return child.pid;
  }

  private static void writeTid(AddressSpace mm, long addr, int tid) {
    try {
      mm.memory().writeInt(addr, tid);
    } catch (SyscallError e) {
      // Linux ignores a bad tid pointer here too.
    }
  }

  /** The vfork parent sleeps until the child execs or exits (only SIGKILL ends the wait). */
  private void awaitVforkRelease(Task t, ThreadGroup child) {
    while (true) {
      lock.lock();
      try {
        if (child.vforkParent == null) {
          return;
        }
      } finally {
        lock.unlock();
      }
      if (t.await(-1, (short) 0, 0, false) == Task.Wait.SIGNAL) {
        return;
      }
    }
  }

  private void releaseVfork(ThreadGroup p) {
    Task waiting;
    lock.lock();
    try {
      waiting = p.vforkParent;
      p.vforkParent = null;
    } finally {
      lock.unlock();
    }
    if (waiting != null) {
      waiting.wake(false);
    }
  }

  // ---------------------------------------------------------------- execve

  /**
   * execve(2): replaces the process's program. Everything that can fail (finding the file,
   * reading its headers, mapping it, building the stack) happens in a new vmspace before the old
   * one is touched, so a failed exec returns to the caller intact.
   *
   * @throws SyscallError ENOENT, EACCES, ENOEXEC, ELOOP, E2BIG, ENOMEM, EFAULT
   */
  public void execve(Task t, String path, List<byte[]> argv, List<byte[]> envp) {
    ThreadGroup p = t.process;
    if (argv.size() + envp.size() > MAX_ARGS) {
      throw new SyscallError(LinuxErrno.E2BIG);
    }
    List<byte[]> args = new ArrayList<>(argv);
    String file = path;
    ImageCache.Image image = null;
    String exe = null;
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      for (int depth = 0; image == null; depth++) {
        if (depth > MAX_EXEC_DEPTH) {
          throw new SyscallError(LinuxErrno.ELOOP, "too many #! interpreters");
        }
        Vfs.Node node = vfs.resolve(file, p.cwd, true);
        if (!(node instanceof Vfs.HostNode h)) {
          throw new SyscallError(LinuxErrno.EACCES, node.guestPath());
        }
        int fd = vfs.openHost(h, Host.O_RDONLY | Host.O_NONBLOCK, 0); // a FIFO must not block: EACCES below
        try {
          if (Host.fstat(fd, st) < 0) {
            throw new SyscallError(LinuxErrno.EACCES, h.guestPath());
          }
          int mode = Stat.mode(st);
          if ((mode & 0170000) != Stat.S_IFREG || (mode & 0111) == 0) {
            throw new SyscallError(LinuxErrno.EACCES, h.guestPath());
          }
          MemorySegment head = a.allocate(256);
          long n = Host.pread(fd, head, 256, 0);
          if (n >= 2 && head.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0) == '#'
              && head.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 1) == '!') {
            String[] interp = shebang(head.asSlice(2, n - 2).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            List<byte[]> newArgs = new ArrayList<>();
            newArgs.add(PathBytes.bytes(interp[0]));
            if (interp[1] != null) {
              newArgs.add(PathBytes.bytes(interp[1]));
            }
            newArgs.add(PathBytes.bytes(file));
            newArgs.addAll(args.isEmpty() ? List.of() : args.subList(1, args.size()));
            args = newArgs;
            file = interp[0];
            continue;
          }
          image = images.get(fd, st);
          exe = h.guestPath();
        } finally {
          Host.close(fd);
        }
      }
    }
    try {
      load(t, image, exe, path, args, envp);
    } finally {
      image.release();
    }
  }

  /** The interpreter and optional argument of a {@code #!} line. */
  private static String[] shebang(byte[] rest) {
    int end = 0;
    while (end < rest.length && rest[end] != '\n') {
      end++;
    }
    if (end == rest.length && rest.length >= 254) {
      throw new SyscallError(LinuxErrno.ENOEXEC, "#! line too long");
    }
    String line = PathBytes.of(rest, 0, end).strip();
    if (line.isEmpty()) {
      throw new SyscallError(LinuxErrno.ENOEXEC, "empty #! line");
    }
    int sp = indexOfBlank(line);
    if (sp < 0) {
      return new String[] {line, null};
    }
    String arg = line.substring(sp).strip();
    return new String[] {line.substring(0, sp), arg.isEmpty() ? null : arg};
  }

  private static int indexOfBlank(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) == ' ' || s.charAt(i) == '\t') {
        return i;
      }
    }
    return -1;
  }

  private void load(Task t, ImageCache.Image image, String exe, String execfn, List<byte[]> args,
      List<byte[]> envp) {
    ThreadGroup p = t.process;
    AddressSpace fresh = AddressSpace.create(vms, newVmspaceId());
    ElfLoader.Loaded loaded;
    try {
      byte[] rnd = new byte[16];
      randomBytes(rnd);
      loaded = ElfLoader.load(fresh, image.file, exe, image.elf, args, envp,
          PathBytes.bytes(execfn), new ElfLoader.Ids(p.uid, p.uid, p.gid, p.gid), rnd, vdso);
      fresh.initBrk(loaded.brk());
    } catch (RuntimeException e) {
      fresh.release();
      throw e;
    }
    // The point of no return.
    AddressSpace old = p.mm;
    clearChildTid(t, old);
    p.mm = fresh;
    if (old != null) {
      old.release();
    }
    t.frame.clear().rip(loaded.entry()).rsp(loaded.stackPointer());
    t.resetVext();
    t.altFlags = Task.SS_DISABLE;
    t.altSp = 0;
    t.altSize = 0;
    if (p.fds != null) {
      // Closing a descriptor on exec drops the process's POSIX locks on its file, as close does.
      p.fds.closeOnExec(d -> vfs.recordLocks().closing(p, d));
    }
    p.resetHandlersForExec();
    p.exePath = exe;
    java.io.ByteArrayOutputStream cmd = new java.io.ByteArrayOutputStream();
    for (byte[] a : args) {
      cmd.writeBytes(a);
      cmd.write(0);
    }
    p.cmdline = cmd.toByteArray();
    String base = execfn.substring(execfn.lastIndexOf('/') + 1);
    p.comm(base);
    lock.lock();
    try {
      p.execed = true;
    } finally {
      lock.unlock();
    }
    releaseVfork(p);
  }

  /** CLONE_CHILD_CLEARTID: zero the tid word and wake a futex waiter on it (exit, exec). */
  private void clearChildTid(Task t, AddressSpace mm) {
    long addr = t.clearTid;
    t.clearTid = 0;
    if (addr != 0 && mm != null) {
      try {
        mm.memory().writeInt(addr, 0);
        futexes.wake(mm, addr, true, 1, -1); // as Linux: a shared wake
      } catch (SyscallError e) {
        // ignored, as Linux does
      }
    }
  }

  // ---------------------------------------------------------------- exit and wait

  /** A guest thread's loop ended: the last thread out finishes its process's exit. */
  void threadExited(Task t) {
    ThreadGroup p = t.process;
    if (!p.exiting()) {
      // The loop ended without an exit request (an internal error): treat as killed.
      p.requestExit(Signals.SIGKILL);
    }
    clearChildTid(t, p.mm);
    boolean last;
    lock.lock();
    try {
      p.threads.remove(t);
      last = p.threads.isEmpty();
    } finally {
      lock.unlock();
    }
    if (last) {
      finishExit(p);
    }
  }

  private void finishExit(ThreadGroup p) {
    int status = p.exitStatus();
    if (p.alarm != null) {
      p.alarm.cancel(false);
    }
    FdTable fds = p.fds;
    if (fds != null) {
      fds.release();
    }
    vfs.recordLocks().releaseAll(p); // POSIX locks are the process's, whatever still refers to its files
    AddressSpace mm = p.mm;
    if (mm != null) {
      mm.release();
    }
    releaseVfork(p);
    ThreadGroup parent;
    boolean notify;
    List<ThreadGroup> orphanSignals = new ArrayList<>();
    List<ThreadGroup> adoptedZombies = new ArrayList<>();
    ThreadGroup reaper;
    lock.lock();
    try {
      p.zombie = true;
      p.waitStatus = status;
      reaper = subreaperOf(p);
      for (ThreadGroup c : p.children) {
        c.parent = reaper;
        if (reaper != null && !(c.zombie && autoReaps(reaper))) {
          reaper.children.add(c);
          if (c.zombie) {
            adoptedZombies.add(c);
          }
        } else if (c.zombie) {
          processes.remove(c.pid);
        }
        if (!c.zombie && c.pdeathSig != 0) {
          orphanSignals.add(c);
        }
      }
      p.children.clear();
      parent = p.parent;
      boolean reap = parent == null;
      if (parent != null) {
        reap = autoReaps(parent);
        if (reap) {
          parent.children.remove(p);
        }
      }
      if (reap) {
        processes.remove(p.pid);
      }
      notify = parent != null;
    } finally {
      lock.unlock();
    }
    for (ThreadGroup c : orphanSignals) {
      postProcess(c, c.pdeathSig, SigInfo.user(c.pdeathSig, p.pid, p.uid));
    }
    for (ThreadGroup z : adoptedZombies) {
      notifyParent(z, reaper, z.waitStatus);
    }
    if (trace != null) {
      int sig = status & 0x7f;
      trace.event(p.pid, sig != 0 ? "+++ killed by " + Signals.name(sig) + " +++" : "+++ exited with " + ((status >> 8) & 0xff) + " +++");
    }
    if (notify) {
      notifyParent(p, parent, status);
    }
    if (p == main) {
      mainExit.complete(status);
    }
  }

  /** Whether {@code parent} has its children reaped at exit (SIGCHLD ignored, or SA_NOCLDWAIT). */
  private static boolean autoReaps(ThreadGroup parent) {
    SigAction a = parent.action(Signals.SIGCHLD);
    return a.handler() == SigAction.SIG_IGN || (a.flags() & SigAction.SA_NOCLDWAIT) != 0;
  }

  /**
   * The living ancestor nearest to {@code p} that PR_SET_CHILD_SUBREAPER made a subreaper, which
   * adopts {@code p}'s children; null for init. Called under the kernel lock.
   */
  private static ThreadGroup subreaperOf(ThreadGroup p) {
    for (ThreadGroup a = p.parent; a != null; a = a.parent) {
      if (a.childSubreaper && !a.zombie) {
        return a;
      }
    }
    return null;
  }

  /** Tells {@code parent} that its child {@code child} ended with wait status {@code status}. */
  private void notifyParent(ThreadGroup child, ThreadGroup parent, int status) {
    int sig = status & 0x7f;
    int exitSig = child.exitSignal;
    if (exitSig > 0 && exitSig <= Signals.NSIG) {
      SigInfo info = new SigInfo(exitSig, sig != 0 ? SigInfo.CLD_KILLED : SigInfo.CLD_EXITED, child.pid, child.uid, 0,
          sig != 0 ? sig : (status >> 8) & 0xff);
      postProcess(parent, exitSig, info);
    }
    for (Task pt : parent.threadsSnapshot()) {
      pt.wake(false);
    }
  }

  public static final int WNOHANG = 1;
  public static final int WUNTRACED = 2;
  public static final int WCONTINUED = 8;
  public static final int WNOWAIT = 0x01000000;
  public static final int WALL = 0x40000000;
  public static final int WCLONE = 0x80000000;

  /** A reaped (or, with WNOWAIT, seen) child: its pid and wait status. */
  public record Reaped(int pid, int status, int uid) {}

  /**
   * wait4/waitid: waits for a child matching {@code which} ({@code > 0} that pid, {@code 0} the
   * caller's process group, {@code -1} any, {@code < -1} that group) to exit.
   *
   * @return the child, or null with WNOHANG when none has exited yet
   * @throws SyscallError ECHILD with no such child, ERESTARTSYS if a signal interrupts
   */
  public Reaped wait(Task t, int which, int options) {
    ThreadGroup p = t.process;
    while (true) {
      lock.lock();
      try {
        boolean any = false;
        for (ThreadGroup c : p.children) {
          if (!waitMatches(p, c, which, options)) {
            continue;
          }
          any = true;
          if (c.zombie) {
            if ((options & WNOWAIT) == 0) {
              p.children.remove(c);
              processes.remove(c.pid);
            }
            return new Reaped(c.pid, c.waitStatus, c.uid);
          }
        }
        if (!any) {
          throw new SyscallError(LinuxErrno.ECHILD);
        }
      } finally {
        lock.unlock();
      }
      if ((options & WNOHANG) != 0) {
        return null;
      }
      if (t.await(-1, (short) 0, 0, true) == Task.Wait.SIGNAL) {
        throw new SyscallError(LinuxErrno.ERESTARTSYS);
      }
    }
  }

  private static boolean waitMatches(ThreadGroup self, ThreadGroup c, int which, int options) {
    boolean pidOk = which > 0 ? c.pid == which : which == 0 ? c.pgid == self.pgid : which == -1 || c.pgid == -which;
    if (!pidOk) {
      return false;
    }
    if ((options & WALL) != 0) {
      return true;
    }
    boolean cloneChild = c.exitSignal != Signals.SIGCHLD;
    return cloneChild == ((options & WCLONE) != 0);
  }

  // ---------------------------------------------------------------- signals

  /**
   * Posts a process-directed signal: it stays pending until a thread that does not block it
   * takes it; that thread is woken (and its guest interrupted) now.
   */
  public void postProcess(ThreadGroup p, int sig, SigInfo info) {
    if (sig == Signals.SIGKILL) {
      p.requestExit(Signals.SIGKILL);
      return;
    }
    if (!p.addPending(sig, info)) {
      return;
    }
    for (Task t : p.threadsSnapshot()) {
      if ((t.mask() & Signals.bit(sig)) == 0 || (t.waitingFor() & Signals.bit(sig)) != 0) {
        t.wake(true);
        return;
      }
    }
  }

  /**
   * kill(2).
   *
   * @throws SyscallError EINVAL bad signal, ESRCH no such process or group
   */
  public void kill(Task t, int which, int sig) {
    if (sig < 0 || sig > Signals.NSIG) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    ThreadGroup self = t.process;
    List<ThreadGroup> targets = new ArrayList<>();
    lock.lock();
    try {
      for (ThreadGroup p : processes.values()) {
        boolean match;
        if (which > 0) {
          match = p.pid == which;
        } else if (which == 0) {
          match = p.pgid == self.pgid;
        } else if (which == -1) {
          match = p != self;
        } else {
          match = p.pgid == -which;
        }
        if (match) {
          targets.add(p);
        }
      }
    } finally {
      lock.unlock();
    }
    if (targets.isEmpty()) {
      throw new SyscallError(LinuxErrno.ESRCH);
    }
    if (sig == 0) {
      return;
    }
    for (ThreadGroup p : targets) {
      if (!p.zombie) {
        postProcess(p, sig, SigInfo.user(sig, self.pid, self.uid));
      }
    }
  }

  /**
   * Sends {@code sig} to the terminal's foreground process group (the first process's group
   * unless a shell changed it), as a terminal does for Ctrl-C; from outside the guests.
   */
  public void signalForeground(int sig) {
    List<ThreadGroup> targets = new ArrayList<>();
    lock.lock();
    try {
      for (ThreadGroup p : processes.values()) {
        if (p.pgid == foregroundPgrp && !p.zombie) {
          targets.add(p);
        }
      }
    } finally {
      lock.unlock();
    }
    for (ThreadGroup p : targets) {
      postProcess(p, sig, new SigInfo(sig, SigInfo.SI_KERNEL, 0, 0, 0, 0));
    }
  }

  /** tkill/tgkill: to one thread ({@code tgid} -1 for tkill). */
  public void tgkill(Task t, int tgid, int tid, int sig) {
    if (sig < 0 || sig > Signals.NSIG || tid <= 0 || (tgid <= 0 && tgid != -1)) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    ThreadGroup p = process(tid, false);
    if (p == null || (tgid != -1 && p.pid != tgid)) {
      throw new SyscallError(LinuxErrno.ESRCH);
    }
    Task target = null;
    for (Task g : p.threadsSnapshot()) {
      if (g.tid == tid) {
        target = g;
      }
    }
    if (target == null) {
      throw new SyscallError(LinuxErrno.ESRCH);
    }
    if (sig != 0) {
      target.post(sig, new SigInfo(sig, SigInfo.SI_TKILL, t.process.pid, t.process.uid, 0, 0));
    }
  }

  void traceSignal(Task t, SigInfo info) {
    if (trace != null) {
      trace.signal(t.process.pid, info);
    }
  }

  /** setitimer(ITIMER_REAL)/alarm: SIGALRM after {@code delayNanos}, then every {@code intervalNanos}. */
  public long[] setAlarm(ThreadGroup p, long delayNanos, long intervalNanos) {
    synchronized (p) {
      long[] old = alarmLeft(p);
      if (p.alarm != null) {
        p.alarm.cancel(false);
        p.alarm = null;
      }
      if (delayNanos > 0) {
        p.alarmDeadline = System.nanoTime() + delayNanos;
        p.alarmInterval = intervalNanos;
        p.alarm = timers.schedule(() -> fireAlarm(p), delayNanos, TimeUnit.NANOSECONDS);
      }
      return old;
    }
  }

  private void fireAlarm(ThreadGroup p) {
    synchronized (p) {
      if (p.alarmInterval > 0) {
        p.alarmDeadline = System.nanoTime() + p.alarmInterval;
        p.alarm = timers.schedule(() -> fireAlarm(p), p.alarmInterval, TimeUnit.NANOSECONDS);
      } else {
        p.alarm = null;
      }
    }
    postProcess(p, Signals.SIGALRM, new SigInfo(Signals.SIGALRM, SigInfo.SI_KERNEL, 0, 0, 0, 0));
  }

  /** The time left on the ITIMER_REAL timer and its interval, in nanoseconds. */
  public long[] alarmLeft(ThreadGroup p) {
    synchronized (p) {
      if (p.alarm == null) {
        return new long[] {0, 0};
      }
      return new long[] {Math.max(1, p.alarmDeadline - System.nanoTime()), p.alarmInterval};
    }
  }

  // ---------------------------------------------------------------- sessions and groups

  /** setpgid(2). */
  public void setpgid(Task t, int pid, int pgid) {
    ThreadGroup self = t.process;
    if (pgid < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    lock.lock();
    try {
      ThreadGroup target = pid == 0 ? self : processes.get(pid);
      if (target == null || target.zombie || (target != self && target.parent != self)) {
        throw new SyscallError(LinuxErrno.ESRCH);
      }
      if (target != self && target.execed) {
        throw new SyscallError(LinuxErrno.EACCES);
      }
      if (target.sid == target.pid || target.sid != self.sid) {
        throw new SyscallError(LinuxErrno.EPERM);
      }
      int group = pgid == 0 ? target.pid : pgid;
      if (group != target.pid) {
        boolean exists = false;
        for (ThreadGroup p : processes.values()) {
          if (p.pgid == group && p.sid == self.sid && !p.zombie) {
            exists = true;
            break;
          }
        }
        if (!exists) {
          throw new SyscallError(LinuxErrno.EPERM);
        }
      }
      target.pgid = group;
    } finally {
      lock.unlock();
    }
  }

  /** getpgid(2)/getsid(2) of another process. */
  public int pgidOf(int pid, boolean session) {
    lock.lock();
    try {
      ThreadGroup p = processes.get(pid);
      if (p == null) {
        throw new SyscallError(LinuxErrno.ESRCH);
      }
      return session ? p.sid : p.pgid;
    } finally {
      lock.unlock();
    }
  }

  /** setsid(2). */
  public int setsid(Task t) {
    ThreadGroup self = t.process;
    lock.lock();
    try {
      for (ThreadGroup p : processes.values()) {
        if (p.pgid == self.pid) {
          throw new SyscallError(LinuxErrno.EPERM);
        }
      }
      self.sid = self.pid;
      self.pgid = self.pid;
      return self.pid;
    } finally {
      lock.unlock();
    }
  }

  /** The terminal's foreground process group (TIOCGPGRP). */
  public int foregroundPgrp() {
    lock.lock();
    try {
      return foregroundPgrp;
    } finally {
      lock.unlock();
    }
  }

  /** TIOCSPGRP: a group of the caller's session. */
  public void foregroundPgrp(Task t, int pgrp) {
    lock.lock();
    try {
      if (pgrp < 0) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
      boolean exists = false;
      for (ThreadGroup p : processes.values()) {
        if (p.pgid == pgrp && p.sid == t.process.sid) {
          exists = true;
          break;
        }
      }
      if (!exists) {
        throw new SyscallError(LinuxErrno.EPERM);
      }
      foregroundPgrp = pgrp;
    } finally {
      lock.unlock();
    }
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
