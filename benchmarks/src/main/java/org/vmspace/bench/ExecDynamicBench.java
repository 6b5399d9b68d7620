package org.vmspace.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.vmspace.api.VmspaceService;
import org.vmspace.api.Vmspaces;
import org.vmspace.vkernel.proc.Kernel;
import org.vmspace.vkernel.proc.KernelConfig;
import org.vmspace.vkernel.syscall.Syscalls;

/**
 * {@code exec-dynamic}: what a dynamically linked program costs to start and to keep alive,
 * inside the vkernel, natively and under {@code qemu-x86_64-static -L /}, in the same run.
 *
 * <ul>
 *   <li>Start-up: the median wall time of Debian's dynamic {@code /bin/true} (ld.so, libc) over
 *       several runs after a warm-up run; the vkernel's is a warm kernel in this JVM (the JVM's
 *       own start is not counted). The static {@code busybox true} inside the vkernel is printed
 *       beside it, to show what the loader and the library mappings add.
 *   <li>Memory: what one more live process costs. Inside the vkernel, a dynamic bash starts
 *       {@value #FEW} and then {@value #MANY} dynamic {@code /bin/sleep} processes; the growth of
 *       this JVM's shared memory (guest memory: page tables, the file cache's pages and the
 *       processes' own pages, all in the service's memfd) and of its anonymous memory (the
 *       kernel's Java objects and thread stacks) between the two, divided by the difference in
 *       processes, is the cost of one. Natively and under qemu-user it is the unique set size
 *       (private clean + private dirty, from {@code /proc/PID/smaps_rollup}) of one {@code
 *       sleep} process, which is what one more costs there (the libraries' page cache is shared).
 * </ul>
 */
final class ExecDynamicBench {
  private static final String QEMU = "/usr/bin/qemu-x86_64-static";
  private static final int RUNS = 9;
  static final int FEW = 4;
  static final int MANY = 24;

  private ExecDynamicBench() {}

  static void main(String[] args) throws Exception {
    for (String program : List.of("/bin/true", "/bin/sleep", "/bin/bash", "/bin/busybox", QEMU)) {
      if (!Files.isExecutable(Path.of(program))) {
        System.err.println("benchmarks/run: " + program + " is missing (apt-get install coreutils bash busybox-static qemu-user-static)");
        System.exit(127);
      }
    }
    Path work = Path.of(System.getProperty("bench.root", "benchmarks"), "target", "exec-dynamic").toAbsolutePath();
    Files.createDirectories(work);
    List<String> dynamicTrue = List.of("/bin/true");
    List<String> staticTrue = List.of("/bin/busybox", "true");
    List<String> qemuTrue = List.of(QEMU, "-L", "/", "/bin/true");
    long[] nativeNs = new long[RUNS];
    long[] qemuNs = new long[RUNS];
    long[] vkNs = new long[RUNS];
    long[] vkStaticNs = new long[RUNS];
    try (VmspaceService vms = Vmspaces.open();
        Kernel kernel = new Kernel(vms, KernelConfig.builder().root(Path.of("/"), false).build(), Syscalls::new)) {
      Path out = work.resolve("vkernel.out");
      VkernelBench.runVkernel(kernel, dynamicTrue, work, out);
      VkernelBench.runVkernel(kernel, staticTrue, work, out);
      VkernelBench.runHost(qemuTrue, work);
      for (int i = 0; i < RUNS; i++) {
        long t0 = System.nanoTime();
        VkernelBench.runHost(dynamicTrue, work);
        long t1 = System.nanoTime();
        VkernelBench.runHost(qemuTrue, work);
        long t2 = System.nanoTime();
        VkernelBench.runVkernel(kernel, dynamicTrue, work, out);
        long t3 = System.nanoTime();
        VkernelBench.runVkernel(kernel, staticTrue, work, out);
        long t4 = System.nanoTime();
        nativeNs[i] = t1 - t0;
        qemuNs[i] = t2 - t1;
        vkNs[i] = t3 - t2;
        vkStaticNs[i] = t4 - t3;
      }
      double n = VkernelBench.median(nativeNs) / 1e6;
      double q = VkernelBench.median(qemuNs) / 1e6;
      double v = VkernelBench.median(vkNs) / 1e6;
      double s = VkernelBench.median(vkStaticNs) / 1e6;
      Report.line("exec-dynamic start-up of /bin/true: vkernel_ms=%.1f native_ms=%.1f qemu_ms=%.1f vkernel/native=%.2f "
          + "qemu/native=%.2f vkernel_static_busybox_true_ms=%.1f (median of %d, same run)", v, n, q, v / n, q / n, s, RUNS);

      long[] few = liveProcesses(kernel, work, FEW);
      long[] many = liveProcesses(kernel, work, MANY);
      double guestKib = (many[0] - few[0]) / 1024.0 / (MANY - FEW);
      double jvmKib = (many[1] - few[1]) / 1024.0 / (MANY - FEW);
      long nativeUss = ussOf(List.of("/bin/sleep", "600"));
      long qemuUss = ussOf(List.of(QEMU, "-L", "/", "/bin/sleep", "600"));
      Report.line("exec-dynamic memory of one more live /bin/sleep: vkernel_guest_kib=%.0f vkernel_jvm_kib=%.0f "
          + "native_uss_kib=%d qemu_uss_kib=%d (vkernel: growth from %d to %d processes)",
          guestKib, jvmKib, nativeUss / 1024, qemuUss / 1024, FEW, MANY);
    }
  }

  /**
   * Starts {@code count} dynamic sleep processes under a dynamic bash in the vkernel and, once
   * they all run, returns this JVM's {RssShmem, RssAnon} in bytes; then ends them.
   */
  private static long[] liveProcesses(Kernel kernel, Path work, int count) throws Exception {
    Path stop = work.resolve("stop");
    Files.deleteIfExists(stop);
    Path out = work.resolve("live.out");
    Files.deleteIfExists(out);
    // "started" once every sleeper has exec'd (its comm is "sleep"), which the kernel's /proc shows.
    String script = "for i in $(seq " + count + "); do /bin/sleep 600 & done; "
        + "until [ \"$(cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^sleep$')\" -ge " + count + " ]; do :; done; "
        + "echo started; while [ ! -e " + stop + " ]; do /bin/sleep 0.2; done; kill $(jobs -p); wait; echo done";
    CompletableFuture<String> run = CompletableFuture.supplyAsync(() -> {
      try {
        return VkernelBench.runVkernel(kernel, List.of("/bin/bash", "-c", script), work, out);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
    while (!(Files.exists(out) && Files.readString(out).contains("started"))) {
      if (run.isDone() || System.nanoTime() > deadline) {
        throw new IllegalStateException("the sleepers did not start: " + (run.isDone() ? run.join() : "timeout"));
      }
      Thread.sleep(100);
    }
    Thread.sleep(2000); // the last sleeper's loader: from exec to its first nanosleep
    System.gc();
    long[] rss = {statusKib("RssShmem") * 1024, statusKib("RssAnon") * 1024};
    Files.writeString(stop, "");
    run.get(10, TimeUnit.MINUTES);
    return rss;
  }

  private static long statusKib(String field) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith(field + ":")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new IllegalStateException(field + " missing from /proc/self/status");
  }

  /** The unique set size of a native process running {@code command}, once it sleeps. */
  private static long ussOf(List<String> command) throws Exception {
    Process p = new ProcessBuilder(new ArrayList<>(command)).redirectErrorStream(true).start();
    try {
      Thread.sleep(1500);
      long uss = 0;
      // Under qemu-user the guest runs in the qemu process itself: its USS is the whole cost.
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(p.pid()), "smaps_rollup"))) {
        if (line.startsWith("Private_Clean:") || line.startsWith("Private_Dirty:")) {
          uss += Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
      return uss;
    } finally {
      p.destroyForcibly();
      p.waitFor();
    }
  }
}
