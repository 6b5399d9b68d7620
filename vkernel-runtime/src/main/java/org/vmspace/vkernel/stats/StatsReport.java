package org.vmspace.vkernel.stats;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongFunction;
import org.vmspace.api.ExitStatistics;

/**
 * The table {@code vkernel run --stats} prints to stderr at exit: the exits of every vmspace of
 * the run by kind (from the service's {@link ExitStatistics}), the time in guest mode, in the
 * service and in the kernel, faults turned into signals, and the system calls by name, most
 * frequent first. Its layout is stable (documented in {@code docs/vkernel.md}): one item per
 * line, a label and its numbers in fixed columns, so scripts can read it.
 */
public final class StatsReport {
  private StatsReport() {}

  /**
   * Formats the report.
   *
   * @param exits the service-wide exit statistics of the run
   * @param calls the kernel's system-call counts of the run
   * @param names a system call's name from its number
   * @return the lines, each ending in a newline
   */
  public static String format(ExitStatistics exits, KernelStats.Snapshot calls, LongFunction<String> names) {
    StringBuilder out = new StringBuilder();
    line(out, "vkernel stats: %d processes, %d threads", calls.processes(), calls.tasks());
    line(out, "%-22s %12d", "exits", exits.exits());
    kind(out, "syscall", exits.syscalls(), "returned to the kernel");
    kind(out, "page fault", exits.pageFaults(), "returned to the kernel");
    kind(out, "trap", exits.traps(), "returned to the kernel");
    kind(out, "interrupt", exits.interrupts(), "returned to the kernel");
    kind(out, "demand fault", exits.demandFaults(), "served in the service");
    kind(out, "other", exits.otherExits(), "kicks, retries");
    line(out, "%-22s %12d", "revocation batches", exits.revocations());
    StringBuilder reasons = new StringBuilder();
    for (Map.Entry<String, Long> e : exits.kvmExits().entrySet()) {
      reasons.append(reasons.isEmpty() ? "" : " ").append(e.getKey()).append('=').append(e.getValue());
    }
    line(out, "%-22s %s", "kvm exit reasons", reasons.isEmpty() ? "-" : reasons);
    line(out, "%-22s %12.3f s", "time in guest", seconds(exits.guestNanos()));
    line(out, "%-22s %12.3f s", "time in service", seconds(exits.serviceNanos()));
    line(out, "%-22s %12.3f s", "time in kernel", seconds(calls.totalNanos()));
    line(out, "%-22s %12d   page faults %d, other traps %d", "faults to signals",
        calls.pageFaultSignals() + calls.trapSignals(), calls.pageFaultSignals(), calls.trapSignals());
    line(out, "%-22s %12d %12s", "system calls", calls.totalCalls(), "kernel ms");
    List<Integer> numbers = new ArrayList<>();
    for (int nr = 0; nr <= SyscallCounters.OUT_OF_RANGE; nr++) {
      if (calls.calls(nr) > 0) {
        numbers.add(nr);
      }
    }
    // Most frequent first; ties by number, so the order is the same from run to run.
    numbers.sort(Comparator.<Integer>comparingLong(nr -> -calls.calls(nr)).thenComparing(nr -> nr));
    for (int nr : numbers) {
      String name = nr == SyscallCounters.OUT_OF_RANGE ? "(numbers >= " + SyscallCounters.NUMBERS + ")" : names.apply(nr);
      line(out, "  %-20s %12d %12.3f", name, calls.calls(nr), calls.nanos(nr) / 1e6);
    }
    return out.toString();
  }

  private static void kind(StringBuilder out, String label, long count, String note) {
    line(out, "  %-20s %12d   %s", label, count, note);
  }

  private static double seconds(long nanos) {
    return nanos / 1e9;
  }

  private static void line(StringBuilder out, String format, Object... args) {
    out.append(String.format(Locale.ROOT, format, args)).append('\n');
  }
}
