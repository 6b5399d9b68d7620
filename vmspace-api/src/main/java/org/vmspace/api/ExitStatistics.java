package org.vmspace.api;

import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * How often guest code left guest mode, and why: a snapshot of the counters a {@link
 * VmspaceService} keeps per vmspace ({@link VmspaceService#exitStatistics(VmspaceId)}) and for
 * its whole context ({@link VmspaceService#exitStatistics()}). An exit is one return of the
 * hypervisor's run call (KVM's {@code KVM_RUN}) on a thread running a vmspace's guest code; every
 * exit is counted in exactly one of the six kinds below, so {@link #exits()} is their sum and
 * also the sum of {@link #kvmExits()}.
 *
 * <p>Immutable. Counts are exact when read after the runs and calls that produced them have
 * returned; a snapshot taken while other threads run may be in the middle of one of them (a
 * kind counted, its time not yet). All counts and times are non-negative.
 *
 * @param syscalls exits for a guest {@code syscall} instruction, each returned to the caller as
 *     {@link RunResult#SYSCALL}
 * @param pageFaults exits for a page fault the service could not resolve, returned to the caller
 *     as {@link RunResult#PAGEFAULT}
 * @param traps exits returned to the caller as {@link RunResult#TRAP}: any other exception
 *     ({@code #UD}, {@code #GP}, {@code #BP}...), the guest's own port I/O or MMIO, a triple fault
 * @param interrupts exits for the service's kick signal after which the run returned {@link
 *     RunResult#INTERRUPTED} or {@link RunResult#TIMEOUT}
 * @param demandFaults exits for a page fault the service resolved itself (demand-zero, an object
 *     or file page, copy-on-write, a widened protection) and re-entered the guest without
 *     returning to the caller; the pages fault-around maps with it add no count of their own, so
 *     a sequential first touch of N pages counts one per fault-around block, blocks doubling
 *     from 16 pages to 8 MiB (about N / 2048 + 8 for a large N)
 * @param otherExits exits that neither returned to the caller nor resolved a fault: a kick that
 *     was not for this run (a TLB shootdown, a timer or interrupt that came after its run
 *     ended), a stop requested while the guest was inside an exception stub (the run stops at the
 *     stub's exit, counted in its own kind), a run retried after a shared file shrank under its
 *     mapping
 * @param revocations revocation batches made for the vmspace: each time the service changed or
 *     removed present page-table entries (munmap, mprotect, {@code MADV_DONTNEED}, fork's
 *     write-protection, copy-on-write, {@code MADV_INVAL}, destroy) with stores from the guest
 *     side, followed on hosts with nested paging by a TLB shootdown that kicks the vCPUs in
 *     guest mode; a call that changed no present entry makes none. Not exits of the vmspace's
 *     own threads, so not in {@link #exits()}
 * @param guestNanos time spent inside the run call with the vmspace's guest code loaded (guest
 *     mode, plus the hypervisor's own handling of the exits), summed over all its threads
 * @param runNanos time spent inside {@code ctl(RUN)} calls on the vmspace, summed over all
 *     threads: {@code guestNanos} plus the service's own work (acquiring a vCPU, loading
 *     registers, resolving demand faults); the caller's time between runs is not in it
 * @param kvmExits the same exits by the hypervisor's exit reason, KVM's names without the {@code
 *     KVM_EXIT_} prefix ({@code IO} for system calls, exceptions and port I/O, {@code INTR} for
 *     the kick signal, {@code MMIO}, {@code SHUTDOWN}, {@code INTERNAL_ERROR}; {@code EFAULT} for
 *     a run call that failed with that error), in name order; reasons that never occurred are
 *     absent
 * @throws IllegalArgumentException if a count or time is negative
 */
public record ExitStatistics(
    long syscalls,
    long pageFaults,
    long traps,
    long interrupts,
    long demandFaults,
    long otherExits,
    long revocations,
    long guestNanos,
    long runNanos,
    SortedMap<String, Long> kvmExits) {
  /** No exits at all. */
  public static final ExitStatistics EMPTY = new ExitStatistics(0, 0, 0, 0, 0, 0, 0, 0, 0, new TreeMap<>());

  public ExitStatistics {
    long[] all = {syscalls, pageFaults, traps, interrupts, demandFaults, otherExits, revocations, guestNanos, runNanos};
    for (long v : all) {
      if (v < 0) {
        throw new IllegalArgumentException("negative count or time: " + v);
      }
    }
    TreeMap<String, Long> copy = new TreeMap<>();
    if (kvmExits != null) {
      for (Map.Entry<String, Long> e : kvmExits.entrySet()) {
        long v = e.getValue();
        if (v < 0) {
          throw new IllegalArgumentException("negative count for " + e.getKey() + ": " + v);
        }
        if (v > 0) {
          copy.put(e.getKey(), v);
        }
      }
    }
    kvmExits = Collections.unmodifiableSortedMap(copy);
  }

  /** Every exit: the sum of the six kinds (revocations are not exits of the guest's threads). */
  public long exits() {
    return syscalls + pageFaults + traps + interrupts + demandFaults + otherExits;
  }

  /** The exits returned to the caller: system calls, page faults, traps and interrupts. */
  public long returnedExits() {
    return syscalls + pageFaults + traps + interrupts;
  }

  /** The service's own time inside {@code ctl(RUN)}: {@code runNanos - guestNanos}, at least 0. */
  public long serviceNanos() {
    return Math.max(0, runNanos - guestNanos);
  }

  /** The sum of two snapshots, count by count (e.g. of several vmspaces). */
  public ExitStatistics plus(ExitStatistics o) {
    return combine(o, 1);
  }

  /**
   * What happened between an earlier snapshot {@code before} of the same counters and this one,
   * count by count (the exits of one operation, say).
   *
   * @throws IllegalArgumentException if {@code before} has a larger count (not an earlier
   *     snapshot of the same counters)
   */
  public ExitStatistics minus(ExitStatistics before) {
    return combine(before, -1);
  }

  private ExitStatistics combine(ExitStatistics o, int sign) {
    TreeMap<String, Long> reasons = new TreeMap<>(kvmExits);
    for (Map.Entry<String, Long> e : o.kvmExits.entrySet()) {
      reasons.merge(e.getKey(), sign * e.getValue(), Long::sum);
    }
    return new ExitStatistics(
        syscalls + sign * o.syscalls,
        pageFaults + sign * o.pageFaults,
        traps + sign * o.traps,
        interrupts + sign * o.interrupts,
        demandFaults + sign * o.demandFaults,
        otherExits + sign * o.otherExits,
        revocations + sign * o.revocations,
        guestNanos + sign * o.guestNanos,
        runNanos + sign * o.runNanos,
        reasons);
  }
}
