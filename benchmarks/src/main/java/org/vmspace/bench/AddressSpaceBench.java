package org.vmspace.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.vmspace.api.ExitStatistics;
import org.vmspace.api.MapFlags;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.Prot;
import org.vmspace.api.RunResult;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceOptions;
import org.vmspace.api.VmspaceService;
import org.vmspace.api.Vmspaces;

/**
 * Address-space benchmarks:
 *
 * <ul>
 *   <li>{@code fault}: a guest's first touch of fresh anonymous pages, per page, the service
 *       against {@code kvm_baseline.c} resolving the same faults with raw KVM (same 16-page
 *       fault-around), alternating batches.
 *   <li>{@code mmap-scale}: one non-fixed mmap plus its munmap with 10^3, 10^4 and 10^5 live
 *       mappings.
 *   <li>{@code touch-1g}: wall time for a guest to touch 1 GiB of fresh anonymous memory, and
 *       for a native process to do the same, natively and under qemu-user, with the service's
 *       exits per GiB.
 * </ul>
 */
final class AddressSpaceBench {
  private static final long TEXT = 0x400000;
  private static final long STACK_TOP = 0x600000;
  private static final long REGION = 0x4000_0000L;
  private static final int RW = Prot.PROT_READ | Prot.PROT_WRITE;
  /** {@code 1: movb $1,(%rbx); add $4096,%rbx; dec %rcx; jnz 1b; syscall; hlt}. */
  private static final byte[] TOUCH = {
    (byte) 0xc6, 0x03, 0x01, 0x48, (byte) 0x81, (byte) 0xc3, 0x00, 0x10, 0x00, 0x00,
    0x48, (byte) 0xff, (byte) 0xc9, 0x75, (byte) 0xf1, 0x0f, 0x05, (byte) 0xf4
  };

  private AddressSpaceBench() {}

  static void main(String[] args) throws Exception {
    switch (args[0]) {
      case "fault" -> fault();
      case "mmap-scale" -> mmapScale();
      case "touch-1g" -> touch1g();
      default -> throw new IllegalArgumentException(args[0]);
    }
  }

  private static Path baseline() {
    return Path.of(System.getProperty("bench.root", "benchmarks"), "target", "kvm_baseline");
  }

  private static VmspaceId toucher(VmspaceService vms) {
    VmspaceId id = VmspaceId.of(1);
    vms.create(id);
    try (MemoryObject text = vms.createMemoryObject(4096)) {
      MemorySegment.copy(MemorySegment.ofArray(TOUCH), 0, text.segment(), 0, TOUCH.length);
      vms.mmap(id, TEXT, 4096, Prot.PROT_READ | Prot.PROT_EXEC, MapFlags.MAP_SHARED | MapFlags.MAP_FIXED, text, 0);
    }
    vms.mmap(id, STACK_TOP - 0x10000, 0x10000, RW, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON | MapFlags.MAP_FIXED, null, 0);
    return id;
  }

  /** Maps {@code pages} fresh pages, lets the guest touch them, returns ns per page. */
  private static double touchOnce(VmspaceService vms, VmspaceId id, long pages) {
    vms.mmap(id, REGION, pages * 4096, RW, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON | MapFlags.MAP_FIXED, null, 0);
    TrapFrame f = new TrapFrame().rip(TEXT).rsp(STACK_TOP).rflags(0x202).rbx(REGION).rcx(pages);
    long t0 = System.nanoTime();
    RunResult r = vms.run(id, f, new VextFrame());
    long t = System.nanoTime() - t0;
    if (r != RunResult.SYSCALL) {
      throw new IllegalStateException("touch ended with " + r + " " + f);
    }
    vms.munmap(id, REGION, pages * 4096);
    return t / (double) pages;
  }

  private static void fault() throws Exception {
    long pages = 8192;
    int rounds = 6;
    int batches = 3;
    int cpu = Runtime.getRuntime().availableProcessors() - 1;
    Affinity.pinCurrentThread(cpu);
    List<Double> java = new ArrayList<>();
    List<Double> c = new ArrayList<>();
    try (VmspaceService vms = Vmspaces.open(VmspaceOptions.builder().memoryLimit(256L << 20).build())) {
      VmspaceId id = toucher(vms);
      for (int i = 0; i < 5; i++) {
        touchOnce(vms, id, pages);
      }
      for (int round = 0; round < rounds; round++) {
        c.addAll(runBaseline("fault", pages, batches, cpu));
        for (int b = 0; b < batches; b++) {
          java.add(touchOnce(vms, id, pages));
        }
      }
    }
    double j = median(java);
    double n = median(c);
    Report.line("fault java_ns=%.0f c_ns=%.0f ratio=%.2f (per page, %d-page first touch)", j, n, j / n, pages);
  }

  private static void mmapScale() {
    int ops = 4000;
    List<String> out = new ArrayList<>();
    boolean warm = false;
    double first = 0;
    double last = 0;
    // The first pass (1000 live mappings, not reported) warms the JIT up.
    for (int live : new int[] {1_000, 1_000, 10_000, 100_000}) {
      try (VmspaceService vms = Vmspaces.open(VmspaceOptions.builder().memoryLimit(1L << 30).build())) {
        VmspaceId id = VmspaceId.of(1);
        vms.create(id);
        // Live mappings one page apart, so every hole is a candidate for first fit.
        for (int i = 0; i < live; i++) {
          vms.mmap(id, REGION + 2L * i * 4096, 4096, RW, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON | MapFlags.MAP_FIXED, null, 0);
        }
        List<Double> batches = new ArrayList<>();
        for (int b = 0; b < 10; b++) {
          long t0 = System.nanoTime();
          for (int i = 0; i < ops; i++) {
            long at = vms.mmap(id, REGION, 4096, RW, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON, null, 0);
            vms.munmap(id, at, 4096);
          }
          batches.add((System.nanoTime() - t0) / (double) ops);
        }
        double ns = median(batches.subList(2, batches.size()));
        if (warm) {
          if (live == 1_000) {
            first = ns;
          }
          last = ns;
          out.add(String.format("mmap-scale live=%d mmap+munmap_ns=%.0f", live, ns));
        }
        warm = true;
      }
    }
    out.forEach(line -> Report.line("%s", line));
    Report.line("mmap-scale ratio_100000_to_1000=%.2f", last / first);
  }

  /**
   * touch-1g: the service's guest loop, the native C loop, the same C program under qemu-user
   * and the same guest loop on raw KVM in C (kvm_baseline touch-kvm: 2 MiB fault blocks, guest
   * memory mapped and advised as the service's), each touching 1 GiB of fresh memory,
   * interleaved, medians of {@link VkernelBench#runs()} after an untimed 1 GiB touch that warms
   * the service's path up;
   * the C programs time themselves, so start-up is not counted. The service's exits per GiB are from its exit statistics
   * over the timed touches.
   */
  private static void touch1g() throws Exception {
    long pages = (1L << 30) / 4096;
    int runs = VkernelBench.runs();
    List<Double> vkernel = new ArrayList<>();
    List<Double> nativ = new ArrayList<>();
    List<Double> qemu = new ArrayList<>();
    List<Double> cKvm = new ArrayList<>();
    ExitStatistics exits;
    try (VmspaceService vms = Vmspaces.open(VmspaceOptions.builder().memoryLimit(2L << 30).build())) {
      VmspaceId id = toucher(vms);
      // The warm-up: one whole untimed touch, as the other benchmarks' first run. A shorter one
      // (64 MiB until 2026-12-07: 32 faults) left the JIT compiling the fault path during the
      // timed touches, a cost of a cold kernel that a warm one does not pay.
      touchOnce(vms, id, pages);
      ExitStatistics before = vms.exitStatistics();
      for (int i = 0; i < runs; i++) {
        vkernel.add(touchOnce(vms, id, pages) * pages / 1e6);
        nativ.add(runBaseline("touch-native", pages, 0, -1).get(0));
        qemu.add(runCommand(List.of(VkernelBench.QEMU, "-L", "/", baseline().toString(), "touch-native",
            Long.toString(pages))).get(0));
        cKvm.add(runBaseline("touch-kvm", pages, 0, -1).get(0));
      }
      exits = vms.exitStatistics().minus(before);
    }
    double v = median(vkernel);
    double n = median(nativ);
    double q = median(qemu);
    Results.Exits perGib = Results.Exits.of(exits, runs);
    double c = median(cKvm);
    Report.line("touch-1g vkernel_ms=%.0f native_ms=%.0f qemu_ms=%.0f ratio=%.2f qemu/native=%.2f (median of %d) "
        + "per GiB: %s", v, n, q, v / n, q / n, runs, perGib.describe());
    // The floor: raw KVM in C doing the same touch with the same 2 MiB blocks and guest memory.
    Report.line("touch-1g c_kvm_ms=%.0f vkernel/c_kvm=%.2f c_kvm/native=%.2f (C on raw KVM, 2 MiB fault blocks, "
        + "median of %d)", c, v / c, c / n, runs);
    // Where the service's time went, as means over the timed touches: in guest mode (with the
    // hypervisor's handling of its own faults: nested or shadow paging, host page faults) and in
    // the service's own work between entries (demand faults, registers).
    Report.line("touch-1g split per GiB: guest_ms=%.0f service_ms=%.0f (means of %d)",
        exits.guestNanos() / 1e6 / runs, exits.serviceNanos() / 1e6 / runs, runs);
    Results.write("touch-1g", List.of(Results.counted("touch-1g", "touch 1 GiB", "ms", v, n, q, runs, "GiB", perGib)));
  }

  static List<Double> runBaseline(String mode, long n, int batches, int cpu)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(baseline().toString(), mode, Long.toString(n)));
    if (batches > 0) {
      cmd.add(Integer.toString(batches));
      if (cpu >= 0) {
        cmd.add(Integer.toString(cpu));
      }
    }
    return runCommand(cmd);
  }

  /** Runs the C baseline's command line {@code cmd} and returns the numbers it printed, one a line. */
  private static List<Double> runCommand(List<String> cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    List<Double> out = new ArrayList<>();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII))) {
      String line;
      while ((line = r.readLine()) != null) {
        try {
          out.add(Double.parseDouble(line.trim()));
        } catch (NumberFormatException e) {
          throw new IllegalStateException("C baseline: " + line);
        }
      }
    }
    if (p.waitFor() != 0) {
      throw new IllegalStateException("C baseline failed with status " + p.exitValue());
    }
    return out;
  }

  static double median(List<Double> values) {
    List<Double> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    return sorted.get(sorted.size() / 2);
  }
}
