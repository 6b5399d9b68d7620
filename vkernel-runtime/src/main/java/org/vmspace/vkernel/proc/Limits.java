package org.vmspace.vkernel.proc;

import org.vmspace.vkernel.fs.FdTable;

/** Resource limits (getrlimit, setrlimit, prlimit64): the resources and their starting values. */
public final class Limits {
  /** The number of resources (RLIMIT_CPU 0 ... RLIMIT_RTTIME 15). */
  public static final int COUNT = 16;
  public static final int RLIMIT_STACK = 3;
  public static final int RLIMIT_CORE = 4;
  public static final int RLIMIT_NPROC = 6;
  public static final int RLIMIT_NOFILE = 7;
  public static final int RLIMIT_MEMLOCK = 8;
  public static final int RLIMIT_SIGPENDING = 11;
  public static final int RLIMIT_MSGQUEUE = 12;
  /** RLIM_INFINITY. */
  public static final long INFINITY = -1L;

  private Limits() {}

  /** The limits a first process starts with (Linux's defaults for a login session). */
  static long[][] defaults() {
    long[][] l = new long[COUNT][];
    for (int i = 0; i < COUNT; i++) {
      l[i] = new long[] {INFINITY, INFINITY};
    }
    l[RLIMIT_STACK] = new long[] {8L << 20, INFINITY};
    l[RLIMIT_CORE] = new long[] {0, INFINITY};
    l[RLIMIT_NPROC] = new long[] {4096, 4096};
    l[RLIMIT_NOFILE] = new long[] {FdTable.LIMIT, FdTable.LIMIT};
    l[RLIMIT_MEMLOCK] = new long[] {8L << 20, 8L << 20};
    l[RLIMIT_SIGPENDING] = new long[] {4096, 4096};
    l[RLIMIT_MSGQUEUE] = new long[] {819200, 819200};
    l[13] = new long[] {0, 0}; // RLIMIT_NICE
    l[14] = new long[] {0, 0}; // RLIMIT_RTPRIO
    return l;
  }

  /** A child's copy of its parent's limits. */
  static void copy(long[][] from, long[][] to) {
    synchronized (from) {
      for (int i = 0; i < COUNT; i++) {
        to[i] = from[i].clone();
      }
    }
  }
}
