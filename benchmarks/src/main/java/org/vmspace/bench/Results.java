package org.vmspace.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.vmspace.api.ExitStatistics;
import org.vmspace.bench.render.ResultRow;

/**
 * The machine-readable side of the benchmarks' output: each benchmark that {@code benchmarks/run
 * all} runs writes its rows to {@code target/results/NAME.tsv} ({@link ResultRow}'s format),
 * replacing an earlier run's, and the host renders {@code docs/benchmarks.md} from them.
 */
final class Results {
  private Results() {}

  /** {@code target/results} under the benchmarks' root. */
  static Path directory() {
    return Path.of(System.getProperty("bench.root", "benchmarks")).toAbsolutePath().resolve("target/results");
  }

  /** Writes {@code rows} as {@code NAME.tsv}. */
  static void write(String benchmark, List<ResultRow> rows) throws IOException {
    List<String> lines = new ArrayList<>();
    lines.add(ResultRow.HEADER);
    rows.forEach(r -> lines.add(r.toTsv()));
    Files.createDirectories(directory());
    Files.write(directory().resolve(benchmark + ".tsv"), lines);
  }

  /** A timed row without exit counts. */
  static ResultRow timed(String benchmark, String row, String unit, double vkernel, double nativ, double qemu, int runs) {
    return new ResultRow(benchmark, row, unit, vkernel, nativ, qemu, runs, "", Double.NaN, Double.NaN, Double.NaN,
        Double.NaN, Double.NaN, Double.NaN);
  }

  /**
   * A row with exits per operation {@code exits} ({@code per} names one operation); the times
   * may be NaN.
   */
  static ResultRow counted(String benchmark, String row, String unit, double vkernel, double nativ, double qemu,
      int runs, String per, Exits exits) {
    return new ResultRow(benchmark, row, unit, vkernel, nativ, qemu, runs, per, exits.exits(), exits.syscalls(),
        exits.pageFaults(), exits.demandFaults(), exits.revocations(), exits.other());
  }

  /**
   * Exits by the kinds the results show, as (possibly fractional) counts per operation: traps,
   * interrupts and other exits are one kind, {@code other}.
   */
  record Exits(double exits, double syscalls, double pageFaults, double demandFaults, double revocations,
      double other) {
    /** {@code s}'s counts divided by {@code operations}. */
    static Exits of(ExitStatistics s, double operations) {
      return new Exits(s.exits() / operations, s.syscalls() / operations, s.pageFaults() / operations,
          s.demandFaults() / operations, s.revocations() / operations,
          (s.traps() + s.interrupts() + s.otherExits()) / operations);
    }

    /**
     * The counts of a run minus those of its empty run, per operation: {@code (run - empty) /
     * operations}, kind by kind. A kind that happens to occur more often in the empty run
     * (kicks) gives a small negative figure rather than an error.
     */
    static Exits difference(ExitStatistics run, ExitStatistics empty, double operations) {
      Exits r = of(run, operations);
      Exits e = of(empty, operations);
      return new Exits(r.exits - e.exits, r.syscalls - e.syscalls, r.pageFaults - e.pageFaults,
          r.demandFaults - e.demandFaults, r.revocations - e.revocations, r.other - e.other);
    }

    /** One line's worth: {@code exits=... syscalls=... page_faults=...}. */
    String describe() {
      return String.format(java.util.Locale.ROOT,
          "exits=%.1f syscalls=%.1f page_faults=%.1f demand_faults=%.1f revocations=%.1f other=%.1f",
          exits, syscalls, pageFaults, demandFaults, revocations, other);
    }
  }
}
