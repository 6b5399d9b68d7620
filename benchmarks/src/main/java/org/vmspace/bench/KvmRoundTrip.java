package org.vmspace.bench;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
 * {@code benchmarks/run syscall|trap}: the round trip a virtual kernel pays per guest system
 * call (guest {@code syscall} -> {@code ctl(RUN)} returns -> caller sets rax -> {@code ctl}
 * again) or per fault returned to it (guest {@code #PF} on an unmapped page -> returned ->
 * caller skips the instruction -> again), through the public API, against {@code
 * kvm_baseline.c} doing the same with raw KVM. The two alternate in rounds; each prints the
 * median of its batch means.
 */
final class KvmRoundTrip {
  private static final long TEXT = 0x400000;
  private static final long STACK_TOP = 0x600000;
  private static final long HOLE = 0x700000;
  /** {@code syscall; jmp .-4}. */
  private static final byte[] SYSCALL_LOOP = {0x0f, 0x05, (byte) 0xeb, (byte) 0xfc};
  /** {@code mov (%rbx),%al; jmp .-4}. */
  private static final byte[] FAULT_LOOP = {(byte) 0x8a, 0x03, (byte) 0xeb, (byte) 0xfc};

  private KvmRoundTrip() {}

  static void main(String[] args) throws Exception {
    String mode = args[0];
    boolean trap = mode.equals("trap");
    // Many short rounds, alternating C and Java, so both sample the same machine noise.
    int iterations = args.length > 1 ? Integer.parseInt(args[1]) : 5_000;
    int batches = 5;
    int rounds = 8;
    Path c = Path.of(System.getProperty("bench.root", "benchmarks"), "target", "kvm_baseline");
    // Both sides run their vCPU on the same CPU; the JVM's other threads keep the other ones.
    int cpu = Runtime.getRuntime().availableProcessors() - 1;
    Affinity.pinCurrentThread(cpu);
    List<Double> javaBatches = new ArrayList<>();
    List<Double> cBatches = new ArrayList<>();
    try (VmspaceService vms = Vmspaces.open(VmspaceOptions.builder().memoryLimit(64L << 20).build())) {
      VmspaceId id = VmspaceId.of(1);
      vms.create(id);
      try (MemoryObject text = vms.createMemoryObject(4096)) {
        MemorySegment.copy(MemorySegment.ofArray(trap ? FAULT_LOOP : SYSCALL_LOOP), 0, text.segment(), 0, 4);
        vms.mmap(id, TEXT, 4096, Prot.PROT_READ | Prot.PROT_EXEC, MapFlags.MAP_SHARED | MapFlags.MAP_FIXED, text, 0);
      }
      vms.mmap(id, STACK_TOP - 0x10000, 0x10000, Prot.PROT_READ | Prot.PROT_WRITE,
          MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON | MapFlags.MAP_FIXED, null, 0);
      TrapFrame f = new TrapFrame().rip(TEXT).rsp(STACK_TOP).rflags(0x202).rbx(HOLE);
      VextFrame x = new VextFrame();
      RunResult expected = trap ? RunResult.PAGEFAULT : RunResult.SYSCALL;
      Runnable roundTrip = () -> {
        RunResult r = vms.run(id, f, x);
        if (r != expected) {
          throw new IllegalStateException("unexpected " + r + " " + f);
        }
        if (trap) {
          f.rip(f.rip() + 2); // skip the faulting load
        } else {
          f.rax(0); // the return value
        }
      };
      // Warm up until the JIT has compiled the whole path (C2 needs ~10^4 invocations).
      for (int i = 0; i < 30_000; i++) {
        roundTrip.run();
      }
      for (int round = 0; round < rounds; round++) {
        cBatches.addAll(runC(c, mode, iterations, batches, cpu));
        int per = iterations / batches;
        for (int b = 0; b < batches; b++) {
          long t0 = System.nanoTime();
          for (int i = 0; i < per; i++) {
            roundTrip.run();
          }
          javaBatches.add((System.nanoTime() - t0) / (double) per);
        }
      }
    }
    double java = median(javaBatches);
    double cNs = median(cBatches);
    Report.line("%s java_ns=%.0f c_ns=%.0f ratio=%.2f", mode, java, cNs, java / cNs);
  }

  private static List<Double> runC(Path c, String mode, int iterations, int batches, int cpu)
      throws IOException, InterruptedException {
    return AddressSpaceBench.runBaseline(mode, iterations, batches, cpu);
  }

  private static double median(List<Double> values) {
    return AddressSpaceBench.median(values);
  }
}
