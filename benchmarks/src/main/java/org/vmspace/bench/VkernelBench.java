package org.vmspace.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.vmspace.api.ExitStatistics;
import org.vmspace.api.VmspaceService;
import org.vmspace.api.Vmspaces;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.proc.Kernel;
import org.vmspace.vkernel.proc.KernelConfig;
import org.vmspace.vkernel.syscall.Syscalls;

/**
 * Real programs under the virtual kernel, natively, and under {@code qemu-x86_64-static}
 * (Debian's qemu-user-static), in the same run, each as the median wall time of several runs
 * after a warm-up run:
 *
 * <ul>
 *   <li>{@code sh-pipeline}: a busybox sh script with 100 pipeline steps, each forking a
 *       subshell and a child that execs busybox (200 forks, 100 execs, 100 pipes).
 *   <li>{@code sha256-64m}: busybox sha256sum of a 64 MiB file (compute, and reading the file).
 * </ul>
 *
 * The vkernel runs in this JVM (a warm kernel: the JVM's start is not counted; the first run is
 * the warm-up). The vkernel's exits per run (from the service's exit statistics over the timed
 * runs) are printed with the times, and per pipeline step for {@code sh-pipeline}: with an exit
 * cost of about 35 us (PVM hosts) or 1-3 us (bare-metal VMX/SVM) they say where the time goes.
 * Under qemu-user only the first process is emulated: the children a script execs
 * run natively (qemu-user does not follow execve), which favours qemu on sh-pipeline.
 */
final class VkernelBench {
  private static final String BUSYBOX = "/bin/busybox";
  static final String QEMU = "/usr/bin/qemu-x86_64-static";
  private static final int RUNS = 5;

  /**
   * The timed runs per figure: {@code bench.runs}, 5 unless set ({@code benchmarks/run all}
   * sets 3 to keep an emulated run under half an hour).
   */
  static int runs() {
    return Integer.getInteger("bench.runs", RUNS);
  }

  private VkernelBench() {}

  static void main(String[] args) throws Exception {
    for (String program : List.of(BUSYBOX, QEMU)) {
      if (!Files.isExecutable(Path.of(program))) {
        System.err.println("benchmarks/run: " + program + " is missing (apt-get install busybox-static qemu-user-static)");
        System.exit(127);
      }
    }
    Path work = Path.of(System.getProperty("bench.root", "benchmarks"), "target", "vkernel-bench").toAbsolutePath();
    Files.createDirectories(work);
    List<String> command = switch (args[0]) {
      case "sh-pipeline" -> {
        Path script = work.resolve("pipeline.sh");
        Files.writeString(script, """
            i=0
            while [ $i -lt 100 ]; do
              echo "step $i of the pipeline" | /bin/busybox tr a-z A-Z > /dev/null
              i=$((i + 1))
            done
            echo $i
            """);
        yield List.of(BUSYBOX, "sh", script.toString());
      }
      case "sha256-64m" -> {
        Path file = work.resolve("random-64m.bin");
        if (!Files.exists(file) || Files.size(file) != 64L << 20) {
          byte[] chunk = new byte[1 << 20];
          Random r = new Random(64);
          try (var out = Files.newOutputStream(file)) {
            for (int i = 0; i < 64; i++) {
              r.nextBytes(chunk);
              out.write(chunk);
            }
          }
        }
        yield List.of(BUSYBOX, "sha256sum", file.toString());
      }
      default -> throw new IllegalArgumentException(args[0]);
    };
    int runs = runs();
    long[] nativeNs = new long[runs];
    long[] qemuNs = new long[runs];
    long[] vkNs = new long[runs];
    ExitStatistics exits;
    String expected = runHost(command, work);
    List<String> qemuCommand = new ArrayList<>(List.of(QEMU));
    qemuCommand.addAll(command);
    check("qemu", expected, runHost(qemuCommand, work));
    try (VmspaceService vms = Vmspaces.open();
        Kernel kernel = new Kernel(vms, KernelConfig.builder().root(Path.of("/"), false).build(), Syscalls::new)) {
      Path out = work.resolve("vkernel.out");
      check("vkernel", expected, runVkernel(kernel, command, work, out));
      ExitStatistics before = vms.exitStatistics();
      for (int i = 0; i < runs; i++) {
        long t0 = System.nanoTime();
        runHost(command, work);
        long t1 = System.nanoTime();
        runHost(qemuCommand, work);
        long t2 = System.nanoTime();
        runVkernel(kernel, command, work, out);
        long t3 = System.nanoTime();
        nativeNs[i] = t1 - t0;
        qemuNs[i] = t2 - t1;
        vkNs[i] = t3 - t2;
      }
      exits = vms.exitStatistics().minus(before);
    }
    double n = median(nativeNs) / 1e6;
    double q = median(qemuNs) / 1e6;
    double v = median(vkNs) / 1e6;
    Report.line("%s: vkernel_ms=%.1f native_ms=%.1f qemu_ms=%.1f vkernel/native=%.2f qemu/native=%.2f "
        + "(median of %d, same run)", args[0], v, n, q, v / n, q / n, runs);
    // The runs are identical, so the exits of one are the mean over the timed runs.
    Report.line("%s: exits_per_run=%d syscalls=%d page_faults=%d demand_faults=%d revocations=%d other=%d%s",
        args[0], exits.exits() / runs, exits.syscalls() / runs, exits.pageFaults() / runs,
        exits.demandFaults() / runs, exits.revocations() / runs,
        (exits.traps() + exits.interrupts() + exits.otherExits()) / runs,
        args[0].equals("sh-pipeline") ? String.format(java.util.Locale.ROOT, " exits_per_step=%.1f", exits.exits() / (runs * 100.0)) : "");
    boolean sh = args[0].equals("sh-pipeline");
    // Exits per operation here are the whole run's over its operations (sh's own start-up
    // included); faults-per-step gives a step's alone.
    Results.write(args[0], List.of(Results.counted(args[0], sh ? "100 pipeline steps" : "sha256sum of 64 MiB", "ms",
        v, n, q, runs, sh ? "step" : "MiB", Results.Exits.of(exits, runs * (sh ? 100.0 : 64.0)))));
  }

  /**
   * Medians of one command's timed runs in milliseconds, the vkernel's mean exits and system
   * calls per run, and its exit statistics summed over the timed runs.
   */
  record Measured(double vkernelMs, double nativeMs, double qemuMs, double exits, double syscalls,
      ExitStatistics statistics) {}

  /** {@link #measureInterleaved} of one command. */
  static Measured measure(VmspaceService vms, Kernel kernel, List<String> command, Path work, Path out, int runs)
      throws Exception {
    return measureInterleaved(vms, kernel, List.of(command), work, out, runs).get(0);
  }

  /**
   * Runs each command natively, under {@code qemu-x86_64-static} and in {@code kernel} once (the
   * warm-up; qemu's and the vkernel's output checked against the native run's), then {@code runs}
   * rounds of every command each way, interleaved (so a change in the machine's load between
   * rounds falls on all of them alike), and returns per command the medians and, from {@code
   * vms}'s exit statistics over its timed runs, the vkernel's exits and system calls per run.
   */
  static List<Measured> measureInterleaved(VmspaceService vms, Kernel kernel, List<List<String>> commands, Path work,
      Path out, int runs) throws Exception {
    int n = commands.size();
    List<List<String>> qemu = new ArrayList<>();
    for (List<String> command : commands) {
      List<String> q = new ArrayList<>(List.of(QEMU));
      q.addAll(command);
      qemu.add(q);
      String expected = runHost(command, work);
      check("qemu", expected, runHost(q, work));
      check("vkernel", expected, runVkernel(kernel, command, work, out));
    }
    long[][] vk = new long[n][runs];
    long[][] nat = new long[n][runs];
    long[][] qe = new long[n][runs];
    ExitStatistics[] exits = new ExitStatistics[n];
    Arrays.fill(exits, ExitStatistics.EMPTY);
    for (int i = 0; i < runs; i++) {
      for (int c = 0; c < n; c++) {
        ExitStatistics before = vms.exitStatistics();
        long t0 = System.nanoTime();
        runHost(commands.get(c), work);
        long t1 = System.nanoTime();
        runHost(qemu.get(c), work);
        long t2 = System.nanoTime();
        runVkernel(kernel, commands.get(c), work, out);
        long t3 = System.nanoTime();
        exits[c] = exits[c].plus(vms.exitStatistics().minus(before));
        nat[c][i] = t1 - t0;
        qe[c][i] = t2 - t1;
        vk[c][i] = t3 - t2;
      }
    }
    List<Measured> measured = new ArrayList<>();
    for (int c = 0; c < n; c++) {
      measured.add(new Measured(median(vk[c]) / 1e6, median(nat[c]) / 1e6, median(qe[c]) / 1e6,
          (double) exits[c].exits() / runs, (double) exits[c].syscalls() / runs, exits[c]));
    }
    return measured;
  }

  /**
   * The C workload {@code target/FILE} that benchmarks/run built, with qemu-user next to it; if
   * either is missing, says so for {@code benchmarks/run NAME} and exits with 127.
   */
  static Path workload(Path root, String file, String name) {
    Path program = root.resolve("target").resolve(file);
    if (!Files.isExecutable(program) || !Files.isExecutable(Path.of(QEMU))) {
      System.err.println("benchmarks/run " + name + ": needs " + program + " (built by benchmarks/run) and " + QEMU
          + " (apt-get install qemu-user-static)");
      System.exit(127);
    }
    return program;
  }

  /** The directory the side-by-side benchmarks run in, {@code target/vkernel-bench}, created. */
  static Path workDirectory(Path root) throws IOException {
    return Files.createDirectories(root.resolve("target/vkernel-bench"));
  }

  static void check(String who, String expected, String actual) {
    if (!expected.equals(actual)) {
      throw new IllegalStateException(who + " printed " + actual.strip() + ", natively " + expected.strip());
    }
  }

  static double median(long[] values) {
    long[] s = values.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }

  static String runHost(List<String> command, Path dir) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException(command + " failed: " + out);
    }
    return out;
  }

  static String runVkernel(Kernel kernel, List<String> command, Path dir, Path out) throws Exception {
    int in = Host.openat2(Host.AT_FDCWD, "/dev/null".getBytes(StandardCharsets.US_ASCII), Host.O_RDONLY | Host.O_CLOEXEC, 0, 0);
    int o = Host.openat2(Host.AT_FDCWD, out.toString().getBytes(StandardCharsets.UTF_8),
        Host.O_WRONLY | Host.O_CREAT | Host.O_TRUNC | Host.O_CLOEXEC, 0644, 0);
    FileDescription stdout = new HostFileDescription(o, out.toString(), Host.O_WRONLY, false, true);
    FileDescription[] stdio = {new HostFileDescription(in, "/dev/null", Host.O_RDONLY), stdout, stdout.retain()};
    Kernel.Exit e = kernel.run(command.get(0), command, List.of("PATH=/bin:/usr/bin"), dir.toString(), stdio,
        Duration.ofMinutes(5));
    if (e.shellStatus() != 0) {
      throw new IllegalStateException("vkernel run of " + command + " ended with " + e.shellStatus());
    }
    return Files.readString(out);
  }
}
