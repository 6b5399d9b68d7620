package org.vmspace.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.vmspace.api.ExitStatistics;
import org.vmspace.api.VmspaceService;
import org.vmspace.api.Vmspaces;
import org.vmspace.vkernel.proc.Kernel;
import org.vmspace.vkernel.proc.KernelConfig;
import org.vmspace.vkernel.syscall.Syscalls;

/**
 * {@code benchmarks/run faults-per-step}: the vkernel's exits per {@code sh-pipeline} step, by
 * kind, counted and not timed (the counts hold on any host). The same busybox sh script as
 * sh-pipeline, with its number of steps as an argument, runs once with 100 steps as a warm-up
 * (the image cache and the JIT), then {@link VkernelBench#runs()} times with 0 steps and with
 * 100, alternately; a step's exits are the difference of the service's exit statistics over
 * those runs, over the steps, so sh's own start-up and exit drop out.
 */
final class FaultsPerStepBench {
  private static final int STEPS = 100;

  private FaultsPerStepBench() {}

  static void main(String[] args) throws Exception {
    Path root = Path.of(System.getProperty("bench.root", "benchmarks")).toAbsolutePath();
    Path work = VkernelBench.workDirectory(root);
    Path script = work.resolve("pipeline-steps.sh");
    // The step of sh-pipeline's script, repeated $1 times.
    Files.writeString(script, """
        i=0
        while [ $i -lt $1 ]; do
          echo "step $i of the pipeline" | /bin/busybox tr a-z A-Z > /dev/null
          i=$((i + 1))
        done
        echo $i
        """);
    Path out = work.resolve("faults-per-step.out");
    int runs = VkernelBench.runs();
    ExitStatistics empty = ExitStatistics.EMPTY;
    ExitStatistics full = ExitStatistics.EMPTY;
    try (VmspaceService vms = Vmspaces.open();
        Kernel kernel = new Kernel(vms, KernelConfig.builder().root(Path.of("/"), false).build(), Syscalls::new)) {
      VkernelBench.check("vkernel", STEPS + "\n", run(kernel, script, STEPS, work, out));
      for (int i = 0; i < runs; i++) {
        ExitStatistics t0 = vms.exitStatistics();
        VkernelBench.check("vkernel", "0\n", run(kernel, script, 0, work, out));
        ExitStatistics t1 = vms.exitStatistics();
        VkernelBench.check("vkernel", STEPS + "\n", run(kernel, script, STEPS, work, out));
        ExitStatistics t2 = vms.exitStatistics();
        empty = empty.plus(t1.minus(t0));
        full = full.plus(t2.minus(t1));
      }
    }
    Results.Exits perStep = Results.Exits.difference(full, empty, (double) runs * STEPS);
    Report.line("faults-per-step: vkernel per sh-pipeline step %s (%d steps minus 0 steps, over %d; mean of %d runs)",
        perStep.describe(), STEPS, STEPS, runs);
    Results.write("faults-per-step", List.of(Results.counted("faults-per-step", "per sh-pipeline step", "",
        Double.NaN, Double.NaN, Double.NaN, runs, "step", perStep)));
  }

  private static String run(Kernel kernel, Path script, int steps, Path work, Path out) throws Exception {
    return VkernelBench.runVkernel(kernel, List.of("/bin/busybox", "sh", script.toString(), Integer.toString(steps)),
        work, out);
  }
}
