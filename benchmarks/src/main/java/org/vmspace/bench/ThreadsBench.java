package org.vmspace.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.vmspace.api.VmspaceService;
import org.vmspace.api.Vmspaces;
import org.vmspace.vkernel.proc.Kernel;
import org.vmspace.vkernel.proc.KernelConfig;
import org.vmspace.vkernel.syscall.Syscalls;

/**
 * {@code benchmarks/run threads}: guest threads, measured with {@code threads_bench} (compiled
 * by the run script from src/main/c/threads_bench.c) natively, under {@code qemu-x86_64-static}
 * and in the virtual kernel, in the same run, each the median of several runs after a warm-up:
 *
 * <ul>
 *   <li>{@code busy N}: N threads (1, 2 and the machine's CPU count) each running the same
 *       compute loop; reported as the scaling {@code time(N) / time(1)} of each way of running
 *       (1.0 is perfect scaling while N is at most the CPU count; N when the threads take turns on
 *       one CPU), and the vkernel's time next to native's;
 *   <li>{@code pingpong}: two threads handing a token back and forth with FUTEX_WAIT/WAKE, the
 *       round trip's time in each way of running.
 * </ul>
 */
final class ThreadsBench {
  private static final String QEMU = "/usr/bin/qemu-x86_64-static";
  private static final int RUNS = 5;

  private ThreadsBench() {}

  static void main(String[] args) throws Exception {
    Path root = Path.of(System.getProperty("bench.root", "benchmarks")).toAbsolutePath();
    Path program = root.resolve("target/threads_bench");
    if (!Files.isExecutable(program) || !Files.isExecutable(Path.of(QEMU))) {
      System.err.println("benchmarks/run threads: needs " + program + " (built by benchmarks/run) and " + QEMU
          + " (apt-get install qemu-user-static)");
      System.exit(127);
    }
    Path work = root.resolve("target/vkernel-bench");
    Files.createDirectories(work);
    Path out = work.resolve("threads.out");
    long iterations = Long.getLong("bench.busyIterations", 400_000_000L);
    long rounds = Long.getLong("bench.pingpongRounds", 1_000L);
    int cpus = Runtime.getRuntime().availableProcessors();
    try (VmspaceService vms = Vmspaces.open();
        Kernel kernel = new Kernel(vms, KernelConfig.builder().root(Path.of("/"), false).build(), Syscalls::new)) {
      double[] one = null;
      for (int n : new TreeSet<>(List.of(1, 2, cpus))) {
        double[] t = measure(kernel, List.of(program.toString(), "busy", Integer.toString(n), Long.toString(iterations)),
            work, out);
        if (one == null) {
          one = t;
        }
        Report.line("threads busy %d (cpus %d): vkernel_ms=%.1f native_ms=%.1f qemu_ms=%.1f vkernel/native=%.2f "
            + "scaling vkernel=%.2f native=%.2f qemu=%.2f (time(%d)/time(1), median of %d, same run)",
            n, cpus, t[0], t[1], t[2], t[0] / t[1], t[0] / one[0], t[1] / one[1], t[2] / one[2], n, RUNS);
      }
      double[] p = measure(kernel, List.of(program.toString(), "pingpong", Long.toString(rounds)), work, out);
      Report.line("threads futex ping-pong: vkernel_us=%.1f native_us=%.1f qemu_us=%.1f vkernel/native=%.2f "
          + "qemu/native=%.2f (per round trip, %d rounds, median of %d, same run)",
          p[0] * 1000 / rounds, p[1] * 1000 / rounds, p[2] * 1000 / rounds, p[0] / p[1], p[2] / p[1], rounds, RUNS);
    }
  }

  /** Median milliseconds of {vkernel, native, qemu} for one command, output checked alike. */
  private static double[] measure(Kernel kernel, List<String> command, Path work, Path out) throws Exception {
    List<String> qemu = new ArrayList<>(List.of(QEMU));
    qemu.addAll(command);
    String expected = VkernelBench.runHost(command, work);
    VkernelBench.check("qemu", expected, VkernelBench.runHost(qemu, work));
    VkernelBench.check("vkernel", expected, VkernelBench.runVkernel(kernel, command, work, out));
    long[] vk = new long[RUNS];
    long[] nat = new long[RUNS];
    long[] qe = new long[RUNS];
    for (int i = 0; i < RUNS; i++) {
      long t0 = System.nanoTime();
      VkernelBench.runHost(command, work);
      long t1 = System.nanoTime();
      VkernelBench.runHost(qemu, work);
      long t2 = System.nanoTime();
      VkernelBench.runVkernel(kernel, command, work, out);
      long t3 = System.nanoTime();
      nat[i] = t1 - t0;
      qe[i] = t2 - t1;
      vk[i] = t3 - t2;
    }
    return new double[] {VkernelBench.median(vk) / 1e6, VkernelBench.median(nat) / 1e6, VkernelBench.median(qe) / 1e6};
  }
}
