package org.vmspace.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code benchmarks/run all [NAME...]}: the benchmarks {@code docs/benchmarks.md} shows, one
 * after the other in this one JVM (so in one boot of the emulated machine), each writing its
 * {@code target/results/NAME.tsv}; without names, {@link #DEFAULT}. Medians are of {@code
 * bench.runs} timed runs, 3 unless set (5 is the single benchmarks' default), and exec-loop
 * makes {@code bench.execSteps} steps, 500 unless set (1,000 alone): in the emulated machine a
 * vkernel step takes about 0.14 s, and the whole run should stay under half an hour.
 *
 * <p>Writes {@code target/results/machine.tsv}: where the guest code ran, the CPU model, the
 * cores, the memory and the kernel of the machine it ran on (inside the emulated machine: the
 * emulated one), the JVM, the date, the runs, and the seconds each benchmark took; rewritten
 * after each benchmark, so a run that fails half-way still describes what it measured. A
 * benchmark that throws is reported and the others still run; the process then exits with 1.
 */
final class AllBenchmarks {
  /** What {@code all} runs without names. */
  static final List<String> DEFAULT = List.of("sh-pipeline", "sha256-64m", "touch-1g", "exec-loop", "faults-per-step");

  private AllBenchmarks() {}

  static void main(String[] args) throws Exception {
    List<String> names = args.length > 1 ? List.of(args).subList(1, args.length) : DEFAULT;
    if (System.getProperty("bench.runs") == null) {
      System.setProperty("bench.runs", "3");
    }
    if (System.getProperty("bench.execSteps") == null) {
      System.setProperty("bench.execSteps", "500");
    }
    Map<String, String> machine = describe();
    List<String> failed = new ArrayList<>();
    write(machine);
    for (String name : names) {
      long t0 = System.nanoTime();
      System.out.println("== " + name);
      System.out.flush();
      try {
        BenchMain.run(new String[] {name});
      } catch (Exception | Error e) {
        // One benchmark's failure should not cost the others' results in a half-hour run.
        failed.add(name);
        System.out.println("benchmarks/run all: " + name + " failed: " + e);
        e.printStackTrace(System.out);
      }
      machine.put("seconds." + name, Long.toString((System.nanoTime() - t0) / 1_000_000_000L));
      write(machine);
    }
    if (!failed.isEmpty()) {
      System.out.println("benchmarks/run all: failed: " + String.join(" ", failed));
      System.exit(1);
    }
  }

  private static Map<String, String> describe() throws IOException {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("where", Report.where());
    m.put("cpu", field(Path.of("/proc/cpuinfo"), "model name"));
    m.put("cores", Integer.toString(Runtime.getRuntime().availableProcessors()));
    String mem = field(Path.of("/proc/meminfo"), "MemTotal").replaceAll("[^0-9]", "");
    m.put("memory", mem.isEmpty() ? "?" : String.format(Locale.ROOT, "%.1f GiB", Long.parseLong(mem) / 1048576.0));
    m.put("kernel", "Linux " + Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip());
    String jit = java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
        .filter(a -> a.startsWith("-XX:")).collect(java.util.stream.Collectors.joining(" "));
    m.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version")
        + (jit.isEmpty() ? ", default JIT" : ", " + jit));
    m.put("date", Instant.now().truncatedTo(ChronoUnit.MINUTES).toString());
    m.put("runs", System.getProperty("bench.runs"));
    return m;
  }

  /** The value of the first {@code key: value} line of {@code file} whose key is {@code key}, or "?". */
  private static String field(Path file, String key) throws IOException {
    for (String line : Files.readAllLines(file)) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).strip().equals(key)) {
        return line.substring(colon + 1).strip();
      }
    }
    return "?";
  }

  private static void write(Map<String, String> machine) throws IOException {
    List<String> lines = new ArrayList<>();
    machine.forEach((k, v) -> lines.add(k + "\t" + v.replace('\t', ' ')));
    Files.createDirectories(Results.directory());
    Files.write(Results.directory().resolve("machine.tsv"), lines);
  }
}
