package org.vmspace.bench;

import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import org.vmspace.api.VmspaceService;
import org.vmspace.api.Vmspaces;
import org.vmspace.bench.VkernelBench.Measured;
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
  private static final int RUNS = 5;

  private ThreadsBench() {}

  static void main(String[] args) throws Exception {
    Path root = Path.of(System.getProperty("bench.root", "benchmarks")).toAbsolutePath();
    Path program = VkernelBench.workload(root, "threads_bench", "threads");
    Path work = VkernelBench.workDirectory(root);
    Path out = work.resolve("threads.out");
    long iterations = Long.getLong("bench.busyIterations", 400_000_000L);
    long rounds = Long.getLong("bench.pingpongRounds", 1_000L);
    int cpus = Runtime.getRuntime().availableProcessors();
    try (VmspaceService vms = Vmspaces.open();
        Kernel kernel = new Kernel(vms, KernelConfig.builder().root(Path.of("/"), false).build(), Syscalls::new)) {
      Measured one = null;
      for (int n : new TreeSet<>(List.of(1, 2, cpus))) {
        Measured t = VkernelBench.measure(vms, kernel,
            List.of(program.toString(), "busy", Integer.toString(n), Long.toString(iterations)), work, out, RUNS);
        if (one == null) {
          one = t;
        }
        Report.line("threads busy %d (cpus %d): vkernel_ms=%.1f native_ms=%.1f qemu_ms=%.1f vkernel/native=%.2f "
            + "scaling vkernel=%.2f native=%.2f qemu=%.2f (time(%d)/time(1), median of %d, same run)",
            n, cpus, t.vkernelMs(), t.nativeMs(), t.qemuMs(), t.vkernelMs() / t.nativeMs(), t.vkernelMs() / one.vkernelMs(),
            t.nativeMs() / one.nativeMs(), t.qemuMs() / one.qemuMs(), n, RUNS);
      }
      Measured p = VkernelBench.measure(vms, kernel, List.of(program.toString(), "pingpong", Long.toString(rounds)),
          work, out, RUNS);
      Report.line("threads futex ping-pong: vkernel_us=%.1f native_us=%.1f qemu_us=%.1f vkernel/native=%.2f "
          + "qemu/native=%.2f (per round trip, %d rounds, median of %d, same run)",
          p.vkernelMs() * 1000 / rounds, p.nativeMs() * 1000 / rounds, p.qemuMs() * 1000 / rounds,
          p.vkernelMs() / p.nativeMs(), p.qemuMs() / p.nativeMs(), rounds, RUNS);
    }
  }
}
