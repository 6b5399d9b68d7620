package org.vmspace.kvm.vm;

import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;
import org.vmspace.api.ExitStatistics;
import org.vmspace.kvm.ioctl.Kvm;

/**
 * The exit counters of one vmspace (or the sum of retired ones): what {@link ExitStatistics}
 * reports. The run loop counts every {@code KVM_RUN} return of a user vCPU once, by kind and by
 * KVM exit reason; the address space counts its revocation batches.
 *
 * <p>The threads of one process run one vmspace on several vCPUs at once, so the counters are
 * {@link LongAdder}s: an increment is a compare-and-set on a cell of the thread's own (no lock,
 * no allocation once the cells exist), and the sums are made only when read. The per-reason
 * adders are created the first time a reason occurs. Thread-safe.
 */
public final class ExitCounters {
  /** A system call returned to the caller. */
  public static final int SYSCALL = 0;
  /** An unresolved page fault returned to the caller. */
  public static final int PAGE_FAULT = 1;
  /** Any other trap returned to the caller. */
  public static final int TRAP = 2;
  /** A kick that stopped the run (interrupt or timeout). */
  public static final int INTERRUPT = 3;
  /** A page fault resolved inside the service. */
  public static final int DEMAND_FAULT = 4;
  /** Any other exit: a kick not for this run, a retried run. */
  public static final int OTHER = 5;
  private static final int KINDS = 6;

  /** Reasons {@code 0..REASONS-1} are KVM's; {@link #RUN_EFAULT} is KVM_RUN failing with EFAULT. */
  private static final int REASONS = 64;
  /** The pseudo-reason of a KVM_RUN that failed with EFAULT (a shrunk shared file). */
  public static final int RUN_EFAULT = REASONS;

  private final LongAdder[] kinds = new LongAdder[KINDS];
  private final AtomicReferenceArray<LongAdder> reasons = new AtomicReferenceArray<>(REASONS + 1);
  private final LongAdder revocations = new LongAdder();
  private final LongAdder guestNanos = new LongAdder();
  private final LongAdder runNanos = new LongAdder();

  public ExitCounters() {
    for (int i = 0; i < KINDS; i++) {
      kinds[i] = new LongAdder();
    }
  }

  /**
   * Counts one exit.
   *
   * @param kind one of the kind constants
   * @param reason KVM's exit reason, or {@link #RUN_EFAULT}; reasons past the table count under
   *     the last KVM slot
   * @param nanos the time spent in {@code KVM_RUN}
   */
  public void exit(int kind, int reason, long nanos) {
    kinds[kind].increment();
    int r = reason == RUN_EFAULT ? RUN_EFAULT : Math.min(Math.max(reason, 0), REASONS - 1);
    LongAdder a = reasons.get(r);
    if (a == null) {
      reasons.compareAndSet(r, null, new LongAdder());
      a = reasons.get(r);
    }
    a.increment();
    guestNanos.add(nanos);
  }

  /** Counts the time of one {@code ctl(RUN)} call. */
  public void run(long nanos) {
    runNanos.add(nanos);
  }

  /** Counts one revocation batch. */
  public void revocation() {
    revocations.increment();
  }

  /** Adds everything {@code other} counted so far to these counters (a vmspace retired). */
  public void add(ExitCounters other) {
    for (int i = 0; i < KINDS; i++) {
      kinds[i].add(other.kinds[i].sum());
    }
    for (int r = 0; r <= REASONS; r++) {
      LongAdder a = other.reasons.get(r);
      if (a != null) {
        long n = a.sum();
        reasons.compareAndSet(r, null, new LongAdder());
        reasons.get(r).add(n);
      }
    }
    revocations.add(other.revocations.sum());
    guestNanos.add(other.guestNanos.sum());
    runNanos.add(other.runNanos.sum());
  }

  /** The counts now. */
  public ExitStatistics snapshot() {
    TreeMap<String, Long> byReason = new TreeMap<>();
    for (int r = 0; r <= REASONS; r++) {
      LongAdder a = reasons.get(r);
      if (a != null) {
        byReason.merge(reasonName(r), a.sum(), Long::sum);
      }
    }
    return new ExitStatistics(
        kinds[SYSCALL].sum(), kinds[PAGE_FAULT].sum(), kinds[TRAP].sum(), kinds[INTERRUPT].sum(),
        kinds[DEMAND_FAULT].sum(), kinds[OTHER].sum(), revocations.sum(), guestNanos.sum(),
        runNanos.sum(), byReason);
  }

  /** The name {@link ExitStatistics#kvmExits()} uses for a reason slot. */
  static String reasonName(int r) {
    if (r == RUN_EFAULT) {
      return "EFAULT";
    }
    if (r == REASONS - 1) {
      return "OTHER"; // where reasons past the table are counted
    }
    String name = Kvm.exitName(r);
    return name.startsWith("exit ") ? "REASON_" + r : name;
  }

  /** A kind's name, for events: {@code syscall}, {@code pageFault}, ... */
  public static String kindName(int kind) {
    return switch (kind) {
      case SYSCALL -> "syscall";
      case PAGE_FAULT -> "pageFault";
      case TRAP -> "trap";
      case INTERRUPT -> "interrupt";
      case DEMAND_FAULT -> "demandFault";
      default -> "other";
    };
  }
}
