package org.vmspace.bench.render;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One line of a benchmark's machine-readable results ({@code benchmarks/target/results/NAME.tsv}):
 * a measurement in the vkernel, natively and under qemu-user, taken in the same run, and the
 * vkernel's exits per operation by kind. A value that was not measured (no qemu-user baseline,
 * no timing, no exit counts) is {@link Double#NaN} and {@code -} in the file.
 *
 * <p>The file is tab-separated with the header {@link #HEADER}; labels may not contain tabs or
 * line breaks. {@link #parse} reads what {@link #toTsv} writes, so the benchmark (inside the
 * emulated machine) and the renderer (on the host) agree on it through this one class.
 *
 * @param benchmark the benchmark's name, as given to {@code benchmarks/run}
 * @param row what this line measures (e.g. {@code per step})
 * @param unit the unit of the three times ({@code ms}, {@code us}), empty if there are none
 * @param vkernel the vkernel's median, in {@code unit}
 * @param nativ the native median, in {@code unit}
 * @param qemu qemu-x86_64-static's median, in {@code unit}
 * @param runs how many timed runs the medians and the exit counts are over
 * @param per the operation the exit counts are per (e.g. {@code step}, {@code GiB})
 * @param exits every exit per operation (the five kinds' sum)
 * @param syscalls system calls per operation
 * @param pageFaults page faults returned to the kernel per operation
 * @param demandFaults page faults served in the service per operation
 * @param revocations revocation batches per operation (not exits of the guest threads)
 * @param other traps, interrupts and other exits per operation
 * @throws IllegalArgumentException if a label is empty or contains a tab or line break
 */
public record ResultRow(
    String benchmark,
    String row,
    String unit,
    double vkernel,
    double nativ,
    double qemu,
    int runs,
    String per,
    double exits,
    double syscalls,
    double pageFaults,
    double demandFaults,
    double revocations,
    double other) {
  /** The header line of every results file. */
  public static final String HEADER = String.join("\t", "benchmark", "row", "unit", "vkernel", "native", "qemu",
      "runs", "per", "exits", "syscalls", "page_faults", "demand_faults", "revocations", "other");

  public ResultRow {
    for (String label : new String[] {benchmark, row}) {
      if (label == null || label.isEmpty()) {
        throw new IllegalArgumentException("empty benchmark or row label");
      }
    }
    for (String label : new String[] {benchmark, row, unit, per}) {
      if (label != null && (label.contains("\t") || label.contains("\n") || label.contains("\r"))) {
        throw new IllegalArgumentException("tab or line break in label: " + label);
      }
    }
    unit = unit == null ? "" : unit;
    per = per == null ? "" : per;
  }

  /** Whether the three times were measured. */
  public boolean timed() {
    return !Double.isNaN(vkernel) && !Double.isNaN(nativ);
  }

  /** Whether exit counts were measured. */
  public boolean counted() {
    return !Double.isNaN(exits);
  }

  /** vkernel / native, or NaN. */
  public double vkernelRatio() {
    return vkernel / nativ;
  }

  /** qemu-user / native, or NaN. */
  public double qemuRatio() {
    return qemu / nativ;
  }

  /** This row as one line of a results file, without the line break. */
  public String toTsv() {
    return String.join("\t", benchmark, row, unit, num(vkernel), num(nativ), num(qemu), Integer.toString(runs), per,
        num(exits), num(syscalls), num(pageFaults), num(demandFaults), num(revocations), num(other));
  }

  /**
   * Reads the lines of a results file: the header, then rows.
   *
   * @throws IllegalArgumentException if the header is not {@link #HEADER} or a line has the
   *     wrong number of fields or a malformed number
   */
  public static List<ResultRow> parse(List<String> lines) {
    if (lines.isEmpty() || !lines.get(0).equals(HEADER)) {
      throw new IllegalArgumentException("not a results file: the header is missing");
    }
    List<ResultRow> rows = new ArrayList<>();
    for (String line : lines.subList(1, lines.size())) {
      if (line.isBlank()) {
        continue;
      }
      String[] f = line.split("\t", -1);
      if (f.length != 14) {
        throw new IllegalArgumentException("expected 14 fields, got " + f.length + ": " + line);
      }
      rows.add(new ResultRow(f[0], f[1], f[2], parseNum(f[3]), parseNum(f[4]), parseNum(f[5]),
          Integer.parseInt(f[6]), f[7], parseNum(f[8]), parseNum(f[9]), parseNum(f[10]), parseNum(f[11]),
          parseNum(f[12]), parseNum(f[13])));
    }
    return rows;
  }

  private static String num(double v) {
    return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.4f", v);
  }

  private static double parseNum(String s) {
    return s.equals("-") ? Double.NaN : Double.parseDouble(s);
  }
}
