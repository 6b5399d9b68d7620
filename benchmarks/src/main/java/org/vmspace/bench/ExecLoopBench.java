package org.vmspace.bench;

import java.nio.file.Path;
import java.util.List;
import org.vmspace.api.VmspaceService;
import org.vmspace.api.Vmspaces;
import org.vmspace.bench.VkernelBench.Measured;
import org.vmspace.vkernel.proc.Kernel;
import org.vmspace.vkernel.proc.KernelConfig;
import org.vmspace.vkernel.syscall.Syscalls;

/**
 * {@code benchmarks/run exec-loop}: fork+exec+wait, measured with {@code exec_loop} (compiled by
 * the run script from src/main/c/exec_loop.c, static) forking {@code bench.execSteps} children
 * (1,000 unless set) that each exec {@code exec_true} (exec_true.c, static, exits at once) and
 * waiting for each, natively, under {@code qemu-x86_64-static} and in the virtual kernel, in the
 * same run: medians of {@link VkernelBench#runs()} after a checked warm-up run.
 *
 * <p>The loop is also run empty (0 steps: exec of the parent and its exit), interleaved with the
 * full one. The first line is the whole run's time and ratios; the second is one step's: the
 * whole run's median minus the empty run's, over the steps, with the vkernel's exits per step by
 * kind (system calls, page faults returned to the kernel, demand faults served in the service,
 * other exits, and revocation batches) from the service's exit statistics over the same timed
 * runs, the same difference. qemu-user runs only the parent emulated: the children it execs run
 * natively, as for sh-pipeline.
 */
final class ExecLoopBench {
  private ExecLoopBench() {}

  static void main(String[] args) throws Exception {
    Path root = Path.of(System.getProperty("bench.root", "benchmarks")).toAbsolutePath();
    Path loop = VkernelBench.workload(root, "exec_loop", "exec-loop");
    Path child = VkernelBench.workload(root, "exec_true", "exec-loop");
    Path work = VkernelBench.workDirectory(root);
    Path out = work.resolve("exec-loop.out");
    long steps = Long.getLong("bench.execSteps", 1_000L);
    int runs = VkernelBench.runs();
    try (VmspaceService vms = Vmspaces.open();
        Kernel kernel = new Kernel(vms, KernelConfig.builder().root(Path.of("/"), false).build(), Syscalls::new)) {
      String p = loop.toString();
      String c = child.toString();
      List<Measured> m = VkernelBench.measureInterleaved(vms, kernel,
          List.of(List.of(p, "0", c), List.of(p, Long.toString(steps), c)), work, out, runs);
      Measured empty = m.get(0);
      Measured full = m.get(1);
      Report.line("exec-loop %d fork+exec+wait: vkernel_ms=%.1f native_ms=%.1f qemu_ms=%.1f vkernel/native=%.2f "
          + "qemu/native=%.2f (whole run; median of %d, same run)", steps, full.vkernelMs(), full.nativeMs(),
          full.qemuMs(), full.vkernelMs() / full.nativeMs(), full.qemuMs() / full.nativeMs(), runs);
      double v = (full.vkernelMs() - empty.vkernelMs()) / steps;
      double n = (full.nativeMs() - empty.nativeMs()) / steps;
      double q = (full.qemuMs() - empty.qemuMs()) / steps;
      Results.Exits perStep = Results.Exits.difference(full.statistics(), empty.statistics(), (double) runs * steps);
      Report.line("exec-loop per step: vkernel_ms=%.3f native_ms=%.3f qemu_ms=%.3f vkernel/native=%.2f qemu/native=%.2f "
          + "vkernel %s (run minus empty run, over %d steps; median of %d, same run)", v, n, q, v / n, q / n,
          perStep.describe(), steps, runs);
      Results.write("exec-loop", List.of(
          Results.timed("exec-loop", "whole run (" + steps + " steps)", "ms", full.vkernelMs(), full.nativeMs(),
              full.qemuMs(), runs),
          Results.counted("exec-loop", "per step", "ms", v, n, q, runs, "step", perStep)));
    }
  }
}
