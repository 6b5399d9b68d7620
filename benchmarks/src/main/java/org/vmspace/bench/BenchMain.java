package org.vmspace.bench;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * {@code benchmarks/run NAME}: runs one group of benchmarks with its baselines in the same run
 * and prints one line per comparison, ending in {@code ratio=<ours/baseline>}.
 *
 * <ul>
 *   <li>{@code registry}: registry lookup+ref+release on 1 and 2 threads vs a
 *       ConcurrentHashMap baseline, and tree find and insert+remove vs TreeMap (JMH).
 *   <li>{@code syscall}, {@code trap}: KVM round trips vs a C program (see {@link KvmRoundTrip}).
 *   <li>{@code fault}, {@code mmap-scale}, {@code touch-1g}: address spaces (see {@link
 *       AddressSpaceBench}).
 *   <li>{@code sh-pipeline}, {@code sha256-64m}: real programs in the virtual kernel vs
 *       natively vs qemu-user (see {@link VkernelBench}).
 *   <li>{@code threads}: busy threads' scaling and a futex ping-pong in the virtual kernel vs
 *       natively vs qemu-user (see {@link ThreadsBench}).
 *   <li>{@code net}: a loopback TCP ping-pong and a bulk transfer in the virtual kernel vs
 *       natively vs qemu-user (see {@link NetBench}).
 *   <li>{@code exec-dynamic}: start-up time and per-process memory of dynamically linked
 *       programs in the virtual kernel vs natively vs qemu-user (see {@link ExecDynamicBench}).
 *   <li>{@code exec-loop}: fork+exec+wait of a static program, per step, with the vkernel's
 *       exits per step by kind (see {@link ExecLoopBench}).
 *   <li>{@code faults-per-step}: the vkernel's exits per sh-pipeline step by kind (see {@link
 *       FaultsPerStepBench}).
 *   <li>{@code all [NAME...]}: several of them in this one JVM (see {@link AllBenchmarks}),
 *       each writing its results under {@code target/results} for {@code docs/benchmarks.md}.
 * </ul>
 */
public final class BenchMain {
  private BenchMain() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      System.err.println("usage: benchmarks/run registry|syscall|trap|fault|mmap-scale|touch-1g|sh-pipeline|sha256-64m|"
          + "threads|net|exec-dynamic|exec-loop|faults-per-step|all [NAME...]");
      System.exit(2);
    }
    if (args[0].equals("all")) {
      AllBenchmarks.main(args);
      return;
    }
    run(args);
  }

  /** Runs the one benchmark group {@code args[0]} names, or exits with 2 if it names none. */
  static void run(String[] args) throws Exception {
    switch (args[0]) {
      case "registry" -> registry(args.length > 1 && args[1].equals("--quick"));
      case "syscall", "trap" -> KvmRoundTrip.main(args);
      case "fault", "mmap-scale", "touch-1g" -> AddressSpaceBench.main(args);
      case "sh-pipeline", "sha256-64m" -> VkernelBench.main(args);
      case "threads" -> ThreadsBench.main(args);
      case "net" -> NetBench.main(args);
      case "exec-dynamic" -> ExecDynamicBench.main(args);
      case "exec-loop" -> ExecLoopBench.main(args);
      case "faults-per-step" -> FaultsPerStepBench.main(args);
      default -> {
        System.err.println("unknown benchmark " + args[0]);
        System.exit(2);
      }
    }
  }

  private static void registry(boolean quick) throws RunnerException {
    OptionsBuilder ob = new OptionsBuilder();
    ob.include(RegistryBenchmark.class.getSimpleName()).include(TreeBenchmark.class.getSimpleName());
    ob.verbosity(VerboseMode.SILENT);
    if (quick) {
      ob.warmupIterations(1).measurementIterations(2);
    }
    Options options = ob.build();
    Collection<RunResult> results = new Runner(options).run();
    Map<String, Double> score = new LinkedHashMap<>();
    for (RunResult r : results) {
      String name = r.getParams().getBenchmark();
      score.put(name.substring(name.lastIndexOf('.') + 1), r.getPrimaryResult().getScore());
    }
    List<String[]> pairs = new ArrayList<>();
    pairs.add(new String[] {"registry lookup+ref+release, 1 thread", "registry1", "baseline1", "ConcurrentHashMap"});
    pairs.add(new String[] {"registry lookup+ref+release, 2 threads", "registry2", "baseline2", "ConcurrentHashMap"});
    pairs.add(new String[] {"tree find", "rbtreeFind", "treemapFind", "TreeMap"});
    pairs.add(new String[] {"tree insert+remove", "rbtreeInsertRemove", "treemapInsertRemove", "TreeMap"});
    for (String[] p : pairs) {
      double ours = score.get(p[1]);
      double base = score.get(p[2]);
      Report.hostLine("%s: ours_ns=%.1f %s_ns=%.1f ratio=%.2f", p[0], ours, p[3], base, ours / base);
    }
  }
}
