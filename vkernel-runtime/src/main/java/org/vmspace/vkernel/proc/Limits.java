package org.vmspace.vkernel.proc;

import org.vmspace.vkernel.fs.FdTable;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * Resource limits (getrlimit, setrlimit, prlimit64): the resources, their starting values and the
 * rules for changing them. Values are unsigned 64-bit, {@link #INFINITY} (all ones) the largest.
 */
public final class Limits {
  /** The number of resources (RLIMIT_CPU 0 ... RLIMIT_RTTIME 15). */
  public static final int COUNT = 16;
  public static final int RLIMIT_CPU = 0;
  public static final int RLIMIT_FSIZE = 1;
  public static final int RLIMIT_DATA = 2;
  public static final int RLIMIT_STACK = 3;
  public static final int RLIMIT_CORE = 4;
  public static final int RLIMIT_NPROC = 6;
  public static final int RLIMIT_NOFILE = 7;
  public static final int RLIMIT_MEMLOCK = 8;
  public static final int RLIMIT_AS = 9;
  public static final int RLIMIT_SIGPENDING = 11;
  public static final int RLIMIT_MSGQUEUE = 12;
  /** RLIM_INFINITY. */
  public static final long INFINITY = -1L;

  private Limits() {}

  /**
   * The limits a first process starts with: Linux's defaults for a login session, with
   * RLIMIT_NOFILE's hard limit {@code files} (its soft limit the usual 1024 when that is lower)
   * and RLIMIT_NPROC {@code pids} (Linux starts it at half the kernel's thread limit; here the
   * vkernel's task cap is that limit).
   */
  static long[][] defaults(int files, int pids) {
    long[][] l = new long[COUNT][];
    for (int i = 0; i < COUNT; i++) {
      l[i] = new long[] {INFINITY, INFINITY};
    }
    l[RLIMIT_STACK] = new long[] {8L << 20, INFINITY};
    l[RLIMIT_CORE] = new long[] {0, INFINITY};
    l[RLIMIT_NPROC] = new long[] {pids, pids};
    l[RLIMIT_NOFILE] = new long[] {Math.min(FdTable.DEFAULT_LIMIT, files), files};
    l[RLIMIT_MEMLOCK] = new long[] {8L << 20, 8L << 20};
    l[RLIMIT_SIGPENDING] = new long[] {4096, 4096};
    l[RLIMIT_MSGQUEUE] = new long[] {819200, 819200};
    l[13] = new long[] {0, 0}; // RLIMIT_NICE
    l[14] = new long[] {0, 0}; // RLIMIT_RTPRIO
    return l;
  }

  /** The defaults of {@link #defaults(int, int)} with Linux's usual 1024 descriptors and 4096 tasks. */
  static long[][] defaults() {
    return defaults(FdTable.DEFAULT_LIMIT, 4096);
  }

  /** A child's copy of its parent's limits. */
  static void copy(long[][] from, long[][] to) {
    synchronized (from) {
      for (int i = 0; i < COUNT; i++) {
        to[i] = from[i].clone();
      }
    }
  }

  /**
   * Checks a new (soft, hard) pair for {@code resource} as Linux's do_prlimit does.
   *
   * @param old the current (soft, hard)
   * @param privileged whether the caller has CAP_SYS_RESOURCE (may raise the hard limit)
   * @throws SyscallError EINVAL for an unknown resource or soft above hard; EPERM for raising
   *     the hard limit without privilege, or RLIMIT_NOFILE above {@link FdTable#NR_OPEN}
   */
  public static void checkChange(int resource, long[] old, long soft, long hard, boolean privileged) {
    if (resource < 0 || resource >= COUNT || Long.compareUnsigned(soft, hard) > 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (Long.compareUnsigned(hard, old[1]) > 0 && !privileged) {
      throw new SyscallError(LinuxErrno.EPERM, "raising a hard limit needs CAP_SYS_RESOURCE");
    }
    if (resource == RLIMIT_NOFILE && Long.compareUnsigned(hard, FdTable.NR_OPEN) > 0) {
      throw new SyscallError(LinuxErrno.EPERM, "RLIMIT_NOFILE above fs.nr_open " + FdTable.NR_OPEN);
    }
  }

  /**
   * Whether one more task may start, as Linux's copy_process decides: not when {@code running}
   * tasks already fill the kernel's cap (the pids cgroup's rule, root included), nor when they
   * reach the user's soft RLIMIT_NPROC {@code nproc}, unless the user is root (Linux lets
   * INIT_USER and CAP_SYS_RESOURCE or CAP_SYS_ADMIN through).
   *
   * @throws SyscallError EAGAIN
   */
  public static void checkNewTask(int running, int cap, long nproc, boolean root) {
    if (running >= cap) {
      throw new SyscallError(LinuxErrno.EAGAIN, "the vkernel's task limit (--pids) of " + cap + " is reached");
    }
    if (!root && nproc != INFINITY && Long.compareUnsigned(running, nproc) >= 0) {
      throw new SyscallError(LinuxErrno.EAGAIN, "RLIMIT_NPROC " + nproc + " is reached");
    }
  }

  /**
   * How much of a {@code len}-byte write at {@code pos} RLIMIT_FSIZE {@code limit} lets through
   * (Linux's generic_write_check_limits): all of it below the limit, the part up to the limit
   * when it crosses, 0 when it starts at or past the limit (then SIGXFSZ and EFBIG). Unsigned.
   */
  public static long writeAllowance(long pos, long len, long limit) {
    if (limit == INFINITY) {
      return len;
    }
    if (Long.compareUnsigned(pos, limit) >= 0) {
      return 0;
    }
    return Long.compareUnsigned(len, limit - pos) > 0 ? limit - pos : len;
  }

  /**
   * Whether {@code value} is over {@code limit} (unsigned; {@link #INFINITY} is never exceeded).
   */
  public static boolean exceeds(long value, long limit) {
    return limit != INFINITY && Long.compareUnsigned(value, limit) > 0;
  }
}
