package org.vmspace.bench;

import java.util.Locale;
import org.vmspace.api.BackendInfo;
import org.vmspace.api.Vmspaces;

/**
 * The lines {@code benchmarks/run} prints: one per comparison, each ending in {@code where=}
 * the machine the guest code ran on, because under emulation absolute times mean nothing and
 * only the ratios to a baseline measured in the same run count.
 *
 * <ul>
 *   <li>{@code where=native-pvm}, {@code where=native-standard}: this machine's {@code /dev/kvm}
 *       of that flavour;
 *   <li>{@code where=emulated-svm}: inside the emulated SVM machine ({@code scripts/svm-machine},
 *       QEMU TCG), where {@code benchmarks/run} runs the KVM benchmarks when {@code /dev/kvm} is
 *       missing;
 *   <li>{@code where=host}: benchmarks that run no guest code (the registry's).
 * </ul>
 */
final class Report {
  private static String where;

  private Report() {}

  /** Prints {@code String.format(format, args)} and {@code where=...} on one line. */
  static void line(String format, Object... args) {
    System.out.println(String.format(Locale.ROOT, format, args) + " where=" + where());
  }

  /** Prints a line of a benchmark that runs no guest code. */
  static void hostLine(String format, Object... args) {
    System.out.println(String.format(Locale.ROOT, format, args) + " where=host");
  }

  /** Where the guest code of this run runs: {@code native-pvm}, {@code emulated-svm}... */
  static synchronized String where() {
    if (where == null) {
      String machine = System.getProperty("bench.where", "native");
      where = machine.equals("native") ? "native-" + flavour() : machine;
    }
    return where;
  }

  private static String flavour() {
    return Vmspaces.probe().stream()
        .filter(BackendInfo::available)
        .map(b -> b.details().getOrDefault("flavour", b.backend()))
        .findFirst()
        .orElse("unknown");
  }
}
