package org.vmspace.bench;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.vmspace.api.VmspaceService;
import org.vmspace.api.Vmspaces;
import org.vmspace.bench.VkernelBench.Measured;
import org.vmspace.vkernel.proc.Kernel;
import org.vmspace.vkernel.proc.KernelConfig;
import org.vmspace.vkernel.syscall.Syscalls;

/**
 * {@code benchmarks/run net}: loopback TCP, measured with {@code net_bench} (compiled by the run
 * script from src/main/c/net_bench.c) natively, under {@code qemu-x86_64-static} and in the
 * virtual kernel (its default {@code --net=loopback} policy), in the same run, each the median
 * wall time of several runs after a checked warm-up run. One process tree each time: the parent
 * listens on 127.0.0.1 and serves, a forked child connects (TCP_NODELAY on both ends).
 *
 * <ul>
 *   <li>{@code pingpong}: the client sends one byte and waits for the server to send it back,
 *       {@code bench.netRounds} round trips;
 *   <li>{@code bulk}: the client sends {@code bench.netMib} MiB in 64 KiB writes, the server
 *       reads it all and acknowledges with the count and a checksum the client compares.
 * </ul>
 *
 * Each workload is also run empty (0 round trips, 0 MiB: exec, listen, fork, connect, accept and
 * exit only), in the same rounds as the full one. The first line of each is the whole run's time
 * and its ratios; the second is the cost of one operation (one round trip, one MiB): the whole
 * run's median minus the empty run's, over the number of operations, and the vkernel's exits and
 * system calls per operation from the service's exit statistics over the timed runs, the same
 * difference. With the cost of one exit on a given host they project the vkernel's time there.
 */
final class NetBench {
  private static final int RUNS = 5;

  private NetBench() {}

  static void main(String[] args) throws Exception {
    Path root = Path.of(System.getProperty("bench.root", "benchmarks")).toAbsolutePath();
    Path program = VkernelBench.workload(root, "net_bench", "net");
    Path work = VkernelBench.workDirectory(root);
    Path out = work.resolve("net.out");
    long rounds = Long.getLong("bench.netRounds", 4_000L);
    long mib = Long.getLong("bench.netMib", 64L);
    try (VmspaceService vms = Vmspaces.open();
        Kernel kernel = new Kernel(vms, KernelConfig.builder().root(Path.of("/"), false).build(), Syscalls::new)) {
      String p = program.toString();
      // Each workload with its empty run, interleaved: their difference is the operations' cost.
      List<Measured> ping = VkernelBench.measureInterleaved(vms, kernel,
          List.of(List.of(p, "pingpong", "0"), List.of(p, "pingpong", Long.toString(rounds))), work, out, RUNS);
      whole(String.format(Locale.ROOT, "net tcp ping-pong %d round trips of 1 byte", rounds), ping.get(1));
      perOperation("net tcp ping-pong per round trip", "us", 1000.0 / rounds, ping.get(1), ping.get(0), rounds);
      List<Measured> bulk = VkernelBench.measureInterleaved(vms, kernel,
          List.of(List.of(p, "bulk", "0"), List.of(p, "bulk", Long.toString(mib))), work, out, RUNS);
      whole(String.format(Locale.ROOT, "net tcp bulk %d MiB in 64 KiB writes", mib), bulk.get(1));
      perOperation("net tcp bulk per MiB", "ms", 1.0 / mib, bulk.get(1), bulk.get(0), mib);
    }
  }

  private static void whole(String what, Measured m) {
    Report.line("%s: vkernel_ms=%.1f native_ms=%.1f qemu_ms=%.1f vkernel/native=%.2f qemu/native=%.2f "
        + "(whole run: exec, fork, connect and exit included; median of %d, same run)",
        what, m.vkernelMs(), m.nativeMs(), m.qemuMs(), m.vkernelMs() / m.nativeMs(), m.qemuMs() / m.nativeMs(), RUNS);
  }

  /**
   * Prints one operation's cost: (the run's median minus the empty run's) times {@code scale}
   * (milliseconds to {@code unit} per operation), and the vkernel's exits per operation.
   */
  private static void perOperation(String what, String unit, double scale, Measured m, Measured empty, long ops) {
    double v = (m.vkernelMs() - empty.vkernelMs()) * scale;
    double n = (m.nativeMs() - empty.nativeMs()) * scale;
    double q = (m.qemuMs() - empty.qemuMs()) * scale;
    Report.line("%s: vkernel_%s=%.1f native_%s=%.1f qemu_%s=%.1f vkernel/native=%.2f qemu/native=%.2f "
        + "vkernel_exits=%.1f vkernel_syscalls=%.1f (run minus empty run, over %d; median of %d, same run)",
        what, unit, v, unit, n, unit, q, v / n, q / n, (m.exits() - empty.exits()) / ops,
        (m.syscalls() - empty.syscalls()) / ops, ops, RUNS);
  }
}
