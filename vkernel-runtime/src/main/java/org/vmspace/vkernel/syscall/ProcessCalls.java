package org.vmspace.vkernel.syscall;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.proc.Task;
import org.vmspace.vkernel.proc.TaskSignals;
import org.vmspace.vkernel.proc.TaskExit;
import org.vmspace.vkernel.proc.TaskExec;
import org.vmspace.vkernel.proc.TaskClone;
import org.vmspace.vkernel.proc.Sessions;
import org.vmspace.vkernel.proc.Kernel;
import org.vmspace.vkernel.proc.Limits;
import org.vmspace.vkernel.proc.ThreadGroup;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.PathBytes;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * ThreadGroup system calls: clone/fork/vfork, execve, exit, wait4/waitid, kill, ids, process
 * groups and sessions, TLS (arch_prctl), prctl, resource limits and usage, uname, sysinfo,
 * futex and the scheduler queries.
 */
final class ProcessCalls {
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static final long ARCH_SET_GS = 0x1001;
  private static final long ARCH_SET_FS = 0x1002;
  private static final long ARCH_GET_FS = 0x1003;
  private static final long ARCH_GET_GS = 0x1004;
  private static final long USER_LIMIT = 0x0000_8000_0000_0000L;
  /** The most argument and environment strings execve reads (the kernel's own limit). */
  private static final int MAX_ARG_STRINGS = 1 << 17;
  /** The most bytes of them it reads: the stack's 2 MiB for strings (see ElfLoader). */
  private static final long MAX_ARG_BYTES = 2L << 20;

  private ProcessCalls() {}

  static void register(Syscalls s) {
    s.def(56, "clone", "xxxxx", c -> TaskClone.clone(c.thread, c.a(0), c.a(1), c.a(2), c.a(3), c.a(4)));
    s.def(57, "fork", "", c -> TaskClone.clone(c.thread, Signals.SIGCHLD, 0, 0, 0, 0));
    s.def(58, "vfork", "", c -> TaskClone.clone(c.thread, TaskClone.CLONE_VM | TaskClone.CLONE_VFORK | Signals.SIGCHLD, 0, 0, 0, 0));
    s.def(435, "clone3", "xu", c -> {
      throw new SyscallError(LinuxErrno.ENOSYS, "clone3 (the C library falls back to clone)");
    });
    s.def(59, "execve", "svv", c -> execve(c, c.path(0), c.a(1), c.a(2)));
    s.def(322, "execveat", "Fsvvx", ProcessCalls::execveat);
    s.def(60, "exit", "d", c -> exit(c, c.i(0)));
    s.def(231, "exit_group", "d", c -> exit(c, c.i(0)));
    s.def(61, "wait4", "dxdx", ProcessCalls::wait4);
    s.def(247, "waitid", "ddxdx", ProcessCalls::waitid);
    s.def(62, "kill", "dS", c -> {
      TaskSignals.kill(c.thread, c.i(0), c.i(1));
      return 0;
    });
    s.def(200, "tkill", "dS", c -> {
      TaskSignals.tgkill(c.thread, -1, c.i(0), c.i(1));
      return 0;
    });
    s.def(234, "tgkill", "ddS", c -> {
      TaskSignals.tgkill(c.thread, c.i(0), c.i(1), c.i(2));
      return 0;
    });
    s.def(39, "getpid", "", c -> c.process.pid());
    s.def(186, "gettid", "", c -> c.thread.tid());
    s.def(110, "getppid", "", c -> c.process.ppid());
    s.def(102, "getuid", "", c -> c.process.uid());
    s.def(107, "geteuid", "", c -> c.process.uid());
    s.def(104, "getgid", "", c -> c.process.gid());
    s.def(108, "getegid", "", c -> c.process.gid());
    s.def(118, "getresuid", "xxx", c -> writeIds(c, c.process.uid()));
    s.def(120, "getresgid", "xxx", c -> writeIds(c, c.process.gid()));
    s.def(105, "setuid", "d", c -> sameId(c.i(0), c.process.uid()));
    s.def(106, "setgid", "d", c -> sameId(c.i(0), c.process.gid()));
    s.def(113, "setreuid", "dd", c -> sameIds(c, c.process.uid(), 2));
    s.def(114, "setregid", "dd", c -> sameIds(c, c.process.gid(), 2));
    s.def(117, "setresuid", "ddd", c -> sameIds(c, c.process.uid(), 3));
    s.def(119, "setresgid", "ddd", c -> sameIds(c, c.process.gid(), 3));
    s.def(115, "getgroups", "dx", ProcessCalls::getgroups);
    s.def(116, "setgroups", "dx", c -> {
      throw new SyscallError(LinuxErrno.EPERM);
    });
    s.def(109, "setpgid", "dd", c -> {
      Sessions.setpgid(c.thread, c.i(0), c.i(1));
      return 0;
    });
    s.def(121, "getpgid", "d", c -> c.i(0) == 0 ? c.process.pgid() : Sessions.pgidOf(c.kernel, c.i(0), false));
    s.def(111, "getpgrp", "", c -> c.process.pgid());
    s.def(112, "setsid", "", c -> Sessions.setsid(c.thread));
    s.def(124, "getsid", "d", c -> c.i(0) == 0 ? c.process.sid() : Sessions.pgidOf(c.kernel, c.i(0), true));
    s.def(218, "set_tid_address", "x", c -> {
      c.thread.clearTid(c.a(0));
      return c.thread.tid();
    });
    s.def(273, "set_robust_list", "xu", c -> {
      if (c.a(1) != 24) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
      // The robust list matters when a thread dies holding a lock other threads wait for;
      // there is one thread per process here, so the list is never walked.
      return 0;
    });
    s.def(334, "rseq", "xuxx", c -> {
      throw new SyscallError(LinuxErrno.ENOSYS, "rseq");
    });
    s.def(158, "arch_prctl", "xx", ProcessCalls::archPrctl);
    s.def(157, "prctl", "dxxxx", ProcessCalls::prctl);
    s.def(97, "getrlimit", "dx", c -> prlimit(c, 0, c.i(0), 0, c.a(1)));
    s.def(160, "setrlimit", "dx", c -> prlimit(c, 0, c.i(0), c.a(1), 0));
    s.def(302, "prlimit64", "ddxx", c -> prlimit(c, c.i(0), c.i(1), c.a(2), c.a(3)));
    s.def(98, "getrusage", "dx", ProcessCalls::getrusage);
    s.def(100, "times", "x", ProcessCalls::times);
    s.def(63, "uname", "x", ProcessCalls::uname);
    s.def(99, "sysinfo", "x", ProcessCalls::sysinfo);
    s.def(24, "sched_yield", "", c -> {
      Thread.yield();
      return 0;
    });
    s.def(203, "sched_setaffinity", "dux", ProcessCalls::setaffinity);
    s.def(204, "sched_getaffinity", "dux", ProcessCalls::getaffinity);
    s.def(140, "getpriority", "dd", c -> {
      checkWho(c, c.i(0), c.i(1));
      return 20; // the kernel's encoding of nice 0
    });
    s.def(202, "futex", "xddxxd", ProcessCalls::futex);
    s.def(309, "getcpu", "xxx", c -> {
      // The guest thread runs on the host CPU its Java thread runs on; one NUMA node.
      if (c.a(0) != 0) {
        c.mem().writeInt(c.a(0), Math.max(0, org.vmspace.vkernel.host.Host.schedGetcpu()));
      }
      if (c.a(1) != 0) {
        c.mem().writeInt(c.a(1), 0);
      }
      return 0;
    });
  }

  // ---------------------------------------------------------------- exec and exit

  private static long execve(Call c, String path, long argv, long envp) {
    List<byte[]> args = c.mem().readStringArray(argv, MAX_ARG_STRINGS, MAX_ARG_BYTES);
    List<byte[]> env = c.mem().readStringArray(envp, MAX_ARG_STRINGS, MAX_ARG_BYTES);
    TaskExec.execve(c.thread, path, args, env);
    return Syscalls.NO_RETURN;
  }

  private static long execveat(Call c) {
    int flags = c.i(4);
    String path = c.path(1);
    if ((flags & ~(FileCalls.AT_EMPTY_PATH | FileCalls.AT_SYMLINK_NOFOLLOW)) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    String full;
    if (path.isEmpty()) {
      if ((flags & FileCalls.AT_EMPTY_PATH) == 0) {
        throw new SyscallError(LinuxErrno.ENOENT);
      }
      FileDescription d = c.fds().get(c.i(0));
      full = d.path();
    } else if (path.startsWith("/") || c.i(0) == FileCalls.AT_FDCWD) {
      full = path;
    } else {
      full = FileCalls.base(c, c.i(0), path) + "/" + path;
    }
    return execve(c, full, c.a(2), c.a(3));
  }

  private static long exit(Call c, int code) {
    c.process.requestExit((code & 0xff) << 8);
    return Syscalls.NO_RETURN;
  }

  private static int waitOptions(int options, int allowed) {
    if ((options & ~allowed) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return options;
  }

  private static long wait4(Call c) {
    int options = waitOptions(c.i(2), TaskExit.WNOHANG | TaskExit.WUNTRACED | TaskExit.WCONTINUED | 0x20000000
        | TaskExit.WALL | TaskExit.WCLONE);
    int which = c.i(0);
    if (which == Integer.MIN_VALUE) {
      throw new SyscallError(LinuxErrno.ESRCH);
    }
    TaskExit.Reaped r = TaskExit.wait(c.thread, which, options);
    if (r == null) {
      return 0;
    }
    if (c.a(1) != 0) {
      c.mem().writeInt(c.a(1), r.status());
    }
    if (c.a(3) != 0) {
      c.mem().writeBytes(c.a(3), new byte[144]);
    }
    return r.pid();
  }

  private static long waitid(Call c) {
    int idtype = c.i(0);
    int id = c.i(1);
    int options = waitOptions(c.i(3), TaskExit.WNOHANG | 2 /* WSTOPPED */ | 4 /* WEXITED */ | TaskExit.WCONTINUED
        | TaskExit.WNOWAIT | 0x20000000 | TaskExit.WALL | TaskExit.WCLONE);
    if ((options & (2 | 4 | TaskExit.WCONTINUED)) == 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    int which = switch (idtype) {
      case 0 -> -1; // P_ALL
      case 1 -> id; // P_PID
      case 2 -> id == 0 ? 0 : -id; // P_PGID
      default -> throw new SyscallError(LinuxErrno.EINVAL);
    };
    if (idtype != 0 && id <= 0 && idtype == 1) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if ((options & 4) == 0) {
      // Only stopped/continued children asked for: this kernel stops nobody.
      if ((options & TaskExit.WNOHANG) != 0) {
        writeChildInfo(c, null);
        return 0;
      }
      throw new SyscallError(LinuxErrno.ECHILD);
    }
    int kopts = (options & (TaskExit.WNOHANG | TaskExit.WNOWAIT | TaskExit.WALL | TaskExit.WCLONE));
    TaskExit.Reaped r = TaskExit.wait(c.thread, which, kopts);
    writeChildInfo(c, r);
    return 0;
  }

  private static void writeChildInfo(Call c, TaskExit.Reaped r) {
    if (c.a(2) == 0) {
      return;
    }
    byte[] info = new byte[128];
    if (r != null) {
      int sig = r.status() & 0x7f;
      SigInfo si = new SigInfo(Signals.SIGCHLD, sig != 0 ? SigInfo.CLD_KILLED : SigInfo.CLD_EXITED, r.pid(), r.uid(), 0,
          sig != 0 ? sig : (r.status() >> 8) & 0xff);
      info = si.toBytes();
    }
    c.mem().writeBytes(c.a(2), info);
  }

  // ---------------------------------------------------------------- ids

  private static long writeIds(Call c, int id) {
    for (int i = 0; i < 3; i++) {
      c.mem().writeInt(c.a(i), id);
    }
    return 0;
  }

  private static long sameId(int requested, int current) {
    if (requested != current) {
      throw new SyscallError(LinuxErrno.EPERM, "the kernel runs every process with the user's ids");
    }
    return 0;
  }

  private static long sameIds(Call c, int current, int n) {
    for (int i = 0; i < n; i++) {
      int v = c.i(i);
      if (v != -1 && v != current) {
        throw new SyscallError(LinuxErrno.EPERM, "the kernel runs every process with the user's ids");
      }
    }
    return 0;
  }

  private static long getgroups(Call c) {
    int size = c.i(0);
    if (size < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (size == 0) {
      return 1;
    }
    c.mem().writeInt(c.a(1), c.process.gid());
    return 1;
  }

  private static void checkWho(Call c, int which, int who) {
    if (which < 0 || which > 2) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (which == 0 && who != 0 && c.kernel.process(who, false) == null) {
      throw new SyscallError(LinuxErrno.ESRCH);
    }
  }

  // ---------------------------------------------------------------- arch_prctl, prctl

  private static long archPrctl(Call c) {
    long code = c.a(0);
    long addr = c.a(1);
    if (code == ARCH_SET_FS || code == ARCH_SET_GS) {
      if (Long.compareUnsigned(addr, USER_LIMIT) >= 0) {
        throw new SyscallError(LinuxErrno.EPERM);
      }
      if (code == ARCH_SET_FS) {
        c.thread.vext().fsBase(addr);
      } else {
        c.thread.vext().gsBase(addr);
      }
      return 0;
    }
    if (code == ARCH_GET_FS || code == ARCH_GET_GS) {
      c.mem().writeLong(addr, code == ARCH_GET_FS ? c.thread.vext().fsBase() : c.thread.vext().gsBase());
      return 0;
    }
    throw new SyscallError(LinuxErrno.EINVAL);
  }

  private static long prctl(Call c) {
    int option = c.i(0);
    ThreadGroup p = c.process;
    switch (option) {
      case 1 -> { // PR_SET_PDEATHSIG
        int sig = c.i(1);
        if (sig < 0 || sig > Signals.NSIG) {
          throw new SyscallError(LinuxErrno.EINVAL);
        }
        p.pdeathSig = sig;
        return 0;
      }
      case 2 -> { // PR_GET_PDEATHSIG
        c.mem().writeInt(c.a(1), p.pdeathSig);
        return 0;
      }
      case 3 -> { // PR_GET_DUMPABLE
        return p.dumpable ? 1 : 0;
      }
      case 4 -> { // PR_SET_DUMPABLE
        if (c.a(1) != 0 && c.a(1) != 1) {
          throw new SyscallError(LinuxErrno.EINVAL);
        }
        p.dumpable = c.a(1) == 1;
        return 0;
      }
      case 36 -> { // PR_SET_CHILD_SUBREAPER
        p.childSubreaper = c.a(1) != 0;
        return 0;
      }
      case 37 -> { // PR_GET_CHILD_SUBREAPER
        c.mem().writeInt(c.a(1), p.childSubreaper ? 1 : 0);
        return 0;
      }
      case 15 -> { // PR_SET_NAME
        byte[] name = c.mem().readBytes(c.a(1), 16);
        int len = 0;
        while (len < 15 && name[len] != 0) {
          len++;
        }
        p.comm(PathBytes.of(name, 0, len));
        return 0;
      }
      case 16 -> { // PR_GET_NAME
        byte[] out = new byte[16];
        byte[] comm = PathBytes.bytes(p.comm());
        System.arraycopy(comm, 0, out, 0, Math.min(15, comm.length));
        c.mem().writeBytes(c.a(1), out);
        return 0;
      }
      default -> throw new SyscallError(LinuxErrno.EINVAL, "prctl option " + option);
    }
  }

  // ---------------------------------------------------------------- limits and usage

  private static long prlimit(Call c, int pid, int resource, long newAddr, long oldAddr) {
    ThreadGroup p = pid == 0 ? c.process : c.kernel.process(pid, false);
    if (p == null) {
      throw new SyscallError(LinuxErrno.ESRCH);
    }
    if (resource < 0 || resource >= Limits.COUNT) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    long[] old = p.rlimit(resource);
    long soft = 0;
    long hard = 0;
    if (newAddr != 0) {
      soft = c.mem().readLong(newAddr);
      hard = c.mem().readLong(newAddr + 8);
      if (Long.compareUnsigned(soft, hard) > 0) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
      if (Long.compareUnsigned(hard, old[1]) > 0 && c.process.uid() != 0) {
        throw new SyscallError(LinuxErrno.EPERM);
      }
      if (resource == Limits.RLIMIT_NOFILE && Long.compareUnsigned(hard, org.vmspace.vkernel.fs.FdTable.LIMIT) > 0) {
        throw new SyscallError(LinuxErrno.EPERM, "at most " + org.vmspace.vkernel.fs.FdTable.LIMIT + " descriptors");
      }
    }
    if (oldAddr != 0) {
      c.mem().writeLong(oldAddr, old[0]);
      c.mem().writeLong(oldAddr + 8, old[1]);
    }
    if (newAddr != 0) {
      p.rlimit(resource, soft, hard);
    }
    return 0;
  }

  /** User and system CPU time of the calling process (one thread: the calling one). */
  private static long[] cpuNanos(ThreadGroup p) {
    long user = Math.max(0, THREADS.getCurrentThreadUserTime());
    long total = Math.max(0, THREADS.getCurrentThreadCpuTime());
    return new long[] {user, Math.max(0, total - user)};
  }

  private static long getrusage(Call c) {
    int who = c.i(0);
    if (who != 0 && who != -1 && who != 1) { // SELF, CHILDREN, THREAD
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    ByteBuffer b = ByteBuffer.allocate(144).order(ByteOrder.LITTLE_ENDIAN);
    if (who != -1) {
      long[] t = cpuNanos(c.process);
      b.putLong(0, t[0] / 1_000_000_000L).putLong(8, (t[0] / 1000) % 1_000_000);
      b.putLong(16, t[1] / 1_000_000_000L).putLong(24, (t[1] / 1000) % 1_000_000);
    }
    c.mem().writeBytes(c.a(1), b.array());
    return 0;
  }

  private static long times(Call c) {
    long[] t = cpuNanos(c.process);
    if (c.a(0) != 0) {
      ByteBuffer b = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
      b.putLong(0, t[0] / 10_000_000L).putLong(8, t[1] / 10_000_000L);
      c.mem().writeBytes(c.a(0), b.array());
    }
    return System.nanoTime() / 10_000_000L;
  }

  private static long uname(Call c) {
    byte[] u = new byte[390];
    String[] fields = {"Linux", c.kernel.config().hostname(), "6.1.0-vkernel", "#1 SMP vkernel", "x86_64", "(none)"};
    for (int i = 0; i < fields.length; i++) {
      byte[] f = fields[i].getBytes(StandardCharsets.UTF_8);
      System.arraycopy(f, 0, u, 65 * i, Math.min(64, f.length));
    }
    c.mem().writeBytes(c.a(0), u);
    return 0;
  }

  private static long sysinfo(Call c) {
    ByteBuffer b = ByteBuffer.allocate(112).order(ByteOrder.LITTLE_ENDIAN);
    long total = 4L << 30;
    b.putLong(0, (System.nanoTime() - c.kernel.bootNanos()) / 1_000_000_000L);
    b.putLong(32, total);
    b.putLong(40, total / 2);
    b.putShort(80, (short) c.kernel.pids().size());
    b.putInt(104, 1); // mem_unit
    c.mem().writeBytes(c.a(0), b.array());
    return 0;
  }

  /** The pid of the virtual init, which has no guest thread. */
  private static final int INIT_PID = 1;

  /**
   * The thread sched_{get,set}affinity name: 0 is the caller; ESRCH if there is none. The
   * virtual init (pid 1) is not a guest thread: its mask is every online CPU and may be read only.
   */
  private static Task affinityTarget(Call c, boolean set) {
    int tid = c.i(0);
    if (tid == INIT_PID) {
      if (set) {
        throw new SyscallError(LinuxErrno.EPERM);
      }
      return null;
    }
    if (tid == 0) {
      return c.thread;
    }
    ThreadGroup p = tid < 0 ? null : c.kernel.process(tid, false);
    Task t = p == null ? null : p.thread(tid);
    if (t == null) {
      throw new SyscallError(LinuxErrno.ESRCH);
    }
    return t;
  }

  /**
   * sched_setaffinity(2): bits past the mask's length are zero; a mask with no online CPU is
   * EINVAL. The mask is kept per thread (inherited by clone) and reported back.
   */
  private static long setaffinity(Call c) {
    long len = c.a(1);
    long mask = 0;
    if (len != 0) {
      byte[] bytes = c.mem().readBytes(c.a(2), Long.compareUnsigned(len, 8) < 0 ? (int) len : 8);
      for (int i = 0; i < bytes.length; i++) {
        mask |= (bytes[i] & 0xffL) << (8 * i);
      }
    }
    // Linux's order: the mask is copied (EFAULT) before the thread is looked up.
    Task t = affinityTarget(c, true);
    mask &= Task.onlineCpus();
    if (mask == 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    t.affinity(mask);
    return 0;
  }

  /** sched_getaffinity(2): the raw call returns the size it wrote (one 64-bit word). */
  private static long getaffinity(Call c) {
    long len = c.a(1);
    if (Long.compareUnsigned(len, 8) < 0 || (len & 7) != 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    Task t = affinityTarget(c, false);
    c.mem().writeLong(c.a(2), t == null ? Task.onlineCpus() : t.affinity());
    return 8;
  }

  // ---------------------------------------------------------------- futex

  private static long futex(Call c) {
    long uaddr = c.a(0);
    int op = c.i(1);
    int cmd = op & 0x7f;
    int val = c.i(2);
    long timeoutAddr = c.a(3);
    boolean realtime = (op & 256) != 0;
    boolean shared = (op & 128) == 0; // FUTEX_PRIVATE_FLAG
    switch (cmd) {
      case 0, 9 -> { // FUTEX_WAIT, FUTEX_WAIT_BITSET
        long deadline = 0;
        if (timeoutAddr != 0) {
          deadline = cmd == 0 ? TimeCalls.deadlineFromTimespec(c, timeoutAddr)
              : TimeCalls.absoluteDeadline(c, timeoutAddr, realtime ? 0 : 1);
        }
        int bitset = cmd == 0 ? -1 : c.i(5);
        c.kernel.futexes().await(c.thread, c.process.mm(), uaddr, shared, val, deadline, bitset);
        return 0;
      }
      case 1, 10 -> { // FUTEX_WAKE, FUTEX_WAKE_BITSET
        int bitset = cmd == 1 ? -1 : c.i(5);
        if (bitset == 0) {
          throw new SyscallError(LinuxErrno.EINVAL);
        }
        return c.kernel.futexes().wake(c.process.mm(), uaddr, shared, val, bitset);
      }
      case 3, 4 -> { // FUTEX_REQUEUE, FUTEX_CMP_REQUEUE
        int requeue = (int) timeoutAddr;
        return c.kernel.futexes().requeue(c.process.mm(), uaddr, shared, val, c.a(4), requeue, cmd == 4 ? c.i(5) : null);
      }
      default -> throw new SyscallError(LinuxErrno.ENOSYS, "futex op " + cmd);
    }
  }
}
