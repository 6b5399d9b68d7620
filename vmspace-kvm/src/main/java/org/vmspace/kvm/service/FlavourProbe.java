package org.vmspace.kvm.service;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.vmspace.api.MapFlags;
import org.vmspace.api.Prot;
import org.vmspace.api.VmspaceOptions;
import org.vmspace.kvm.flavour.ExecutionFlavour;
import org.vmspace.kvm.flavour.NestedPaging;
import org.vmspace.kvm.flavour.PvmFlavour;
import org.vmspace.kvm.flavour.StandardFlavour;
import org.vmspace.kvm.guest.GuestLayout;
import org.vmspace.kvm.ioctl.Kvm;
import org.vmspace.kvm.ioctl.KvmRegs;
import org.vmspace.kvm.ioctl.KvmRun;
import org.vmspace.kvm.ioctl.KvmSregs;
import org.vmspace.kvm.ioctl.KvmSystem;
import org.vmspace.kvm.linux.Errnos;
import org.vmspace.kvm.linux.LinuxException;
import org.vmspace.kvm.vcpu.RunnerState;
import org.vmspace.kvm.vcpu.Vcpu;
import org.vmspace.kvm.vm.Vmspace;

/**
 * Tells the kinds of {@code /dev/kvm} apart by running a one-instruction guest: user code
 * executes {@code syscall} with LSTAR pointing at a page that is executable from both privilege
 * levels and does {@code out}. On VMX/SVM the {@code out} runs at CPL0 (CS 0x10); on the
 * PVM-style hosts of this project it runs at CPL3 (CS 0x33). The presence of {@code
 * /sys/module/kvm_pvm} is reported beside it. The result is computed once per JVM.
 */
public final class FlavourProbe {
  /** What the probe found. */
  public record Result(
      boolean kvmUsable,
      ExecutionFlavour flavour,
      String flavourName,
      String reason,
      Map<String, String> facts) {}

  private static volatile Result cached;

  private FlavourProbe() {}

  /** The probe's result, running it on first use. Never throws. */
  public static Result result() {
    Result r = cached;
    if (r == null) {
      synchronized (FlavourProbe.class) {
        r = cached;
        if (r == null) {
          r = run();
          cached = r;
        }
      }
    }
    return r;
  }

  private static Result run() {
    Map<String, String> facts = new LinkedHashMap<>();
    facts.put("device", KvmSystem.DEVICE);
    if (!Files.exists(Path.of(KvmSystem.DEVICE))) {
      return new Result(false, null, "unavailable", KvmSystem.DEVICE + " does not exist", facts);
    }
    try (KvmSystem system = KvmSystem.open()) {
      facts.put("api version", Integer.toString(system.apiVersion()));
      facts.put("sync regs", "0x" + Integer.toHexString(system.checkExtension(Kvm.KVM_CAP_SYNC_REGS)));
      facts.put("max vcpus", Integer.toString(system.checkExtension(Kvm.KVM_CAP_MAX_VCPUS)));
    } catch (LinuxException e) {
      String why =
          e.errno() == Errnos.EACCES
              ? "no permission to open " + KvmSystem.DEVICE + " (add the user to group kvm)"
              : e.getMessage();
      return new Result(false, null, "unavailable", why, facts);
    }
    boolean pvmModule = Files.isDirectory(Path.of("/sys/module/kvm_pvm"));
    facts.put("kvm_pvm module", pvmModule ? "loaded" : "absent");
    try {
      int cs = syscallCodeSelector(facts);
      if (cs == GuestLayout.USER_CS) {
        facts.put("revocations", "guest-side stores (KVM shadows the tables)");
        return new Result(
            true, new PvmFlavour(), "pvm",
            "user syscall stayed at CPL3 (CS 0x33)" + (pvmModule ? ", kvm_pvm loaded" : ""), facts);
      }
      if (cs == GuestLayout.KERNEL_CS) {
        StandardFlavour standard = new StandardFlavour();
        facts.put("revocations", standardRevocations(standard));
        return new Result(
            true, standard, "standard",
            "user syscall entered CPL0 (CS 0x10): hardware virtualization (VMX/SVM)", facts);
      }
      return new Result(false, null, "unknown", "probe guest exited with CS 0x" + Integer.toHexString(cs), facts);
    } catch (RuntimeException e) {
      return new Result(false, null, "unknown", "probe guest failed: " + e.getMessage(), facts);
    }
  }

  /**
   * How the standard flavour revokes here, for {@code vkernel info}. Never throws: a bad {@value
   * NestedPaging#PROPERTY} is said here, and fails {@code vmspace_open} with EINVAL, instead of
   * making the probe report KVM unusable.
   */
  private static String standardRevocations(StandardFlavour standard) {
    try {
      return standard.revokesWithHostStores()
          ? "host-side stores and a TLB shootdown (nested paging)"
          : "guest-side stores and a TLB shootdown ("
              + (NestedPaging.inUse() ? "-D" + NestedPaging.PROPERTY + "=guest" : "shadow paging") + ")";
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
  }

  /** Runs {@code syscall} at CPL3 and returns CS at the trampoline's exit. */
  private static int syscallCodeSelector(Map<String, String> facts) {
    VmspaceOptions options = VmspaceOptions.builder().memoryLimit(16L << 20).maxVcpus(1).build();
    try (KvmContext ctx = KvmContext.open(options, new PvmFlavour())) {
      Vmspace vs = Vmspace.create(1, ctx);
      try {
        long text = 0x400000;
        vs.mmap(text, 4096, Prot.PROT_READ | Prot.PROT_WRITE | Prot.PROT_EXEC,
            MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON | MapFlags.MAP_FIXED, null, 0, (b, s) -> null);
        vs.pwrite(MemorySegment.ofArray(new byte[] {0x0F, 0x05, (byte) 0xF4}), 3, text); // syscall; hlt
        RunnerState runner = ctx.runners.current();
        Vcpu v = ctx.main.vcpus.acquire(runner, 1_000_000_000L);
        try {
          KvmRun run = v.kvmRun();
          run.reg(KvmRegs.RIP, text);
          run.reg(KvmRegs.RSP, 0);
          run.reg(KvmRegs.RFLAGS, 0x202);
          run.sreg(KvmSregs.CR3, vs.cr3());
          run.dirtyRegs(Kvm.KVM_SYNC_X86_REGS | Kvm.KVM_SYNC_X86_SREGS);
          v.armTimer(1_000_000_000L);
          int rc = v.enter();
          v.disarmTimer();
          v.drainKicks();
          if (rc < 0) {
            throw new IllegalStateException("KVM_RUN: " + Errnos.name(-rc));
          }
          facts.put("probe exit", Kvm.exitName(run.exitReason()) + " port 0x"
              + Integer.toHexString(run.ioPort()) + " rip 0x" + Long.toHexString(run.reg(KvmRegs.RIP)));
          if (run.exitReason() != Kvm.KVM_EXIT_IO || run.ioPort() != GuestLayout.PORT_SYSCALL) {
            StringBuilder frame = new StringBuilder();
            if (run.ioPort() == GuestLayout.PORT_EXCEPTION) {
              long sp = run.reg(KvmRegs.RSP) - GuestLayout.KERNEL_BASE;
              for (int i = 0; i < 6; i++) {
                frame.append(" 0x").append(Long.toHexString(
                    ctx.memory().readLong(sp + 8L * i)));
              }
            }
            throw new IllegalStateException(
                "unexpected exit " + facts.get("probe exit") + " stack:" + frame);
          }
          return KvmSregs.selector(run.segment(), KvmRun.SYNC_SREGS, KvmSregs.CS);
        } finally {
          v.markDead(); // its state is the probe's: never reuse it
          ctx.main.vcpus.release(v);
        }
      } finally {
        vs.destroy();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
