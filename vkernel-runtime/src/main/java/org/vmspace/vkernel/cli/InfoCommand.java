package org.vmspace.vkernel.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.vmspace.api.BackendInfo;
import org.vmspace.api.Vmspaces;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code vkernel info}: the Java version, whether {@code /dev/kvm} is usable, the KVM API
 * version, and the backend and execution flavour that would be used, or why none can be; and
 * whether the emulated machine could be used. Where KVM is not usable here (and {@code --accel}
 * allows it), the same report comes from inside the emulated machine, after one line on stderr.
 */
@Command(name = "info", description = "Show the Java runtime, /dev/kvm and the backend that would be used.")
final class InfoCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @CommandLine.Mixin Accel accel = new Accel();

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if (accel.forcesEmulation()) {
      return infoEmulated(err, "--accel=emulated asks for it");
    }
    List<BackendInfo> backends = Vmspaces.probe();
    BackendInfo best = backends.stream().filter(BackendInfo::available).findFirst().orElse(null);
    BackendInfo kvmInfo =
        backends.stream().filter(b -> b.backend().equals("kvm")).findFirst().orElse(null);
    if (best == null && accel.mayEmulate()) {
      String why = kvmInfo == null ? "no KVM backend on the class path" : kvmInfo.summary();
      return infoEmulated(err, EmulatedMachine.whyNotKvm(why));
    }
    Runtime.Version v = Runtime.version();
    out.printf("java:      %s (%s, %s)%n", v, System.getProperty("java.vendor"),
        System.getProperty("java.home"));
    Path kvm = Path.of("/dev/kvm");
    String device;
    if (!Files.exists(kvm)) {
      device = "missing (no KVM on this machine, or not exposed to it)";
    } else if (kvmInfo != null && kvmInfo.details().containsKey("api version")) {
      device = "usable (opened read-write)";
    } else {
      device = "present but not usable: " + (kvmInfo == null ? "no KVM backend" : kvmInfo.summary());
    }
    out.printf("/dev/kvm:  %s%n", device);
    if (kvmInfo != null && kvmInfo.details().containsKey("api version")) {
      out.printf("KVM API:   %s%n", kvmInfo.details().get("api version"));
    }
    if (best != null) {
      out.printf("backend:   %s, %s%n", best.backend(), best.summary());
    } else {
      String why = backends.isEmpty() ? "no backend on the class path" : backends.get(0).summary();
      out.printf("backend:   unavailable (%s)%n", why);
    }
    for (BackendInfo b : backends) {
      for (Map.Entry<String, String> e : b.details().entrySet()) {
        out.printf("  %s.%s: %s%n", b.backend(), e.getKey(), e.getValue());
      }
    }
    if (accel.mode == Accel.Mode.AUTO) {
      String unavailable = EmulatedMachine.whyUnavailable();
      out.printf("emulated:  %s%n", unavailable == null
          ? "available (an SVM machine under QEMU TCG: --accel=emulated, or where KVM is not usable)"
          : "unavailable: " + unavailable);
    }
    return 0;
  }

  private int infoEmulated(PrintWriter err, String why) throws Exception {
    String unavailable = EmulatedMachine.whyUnavailable();
    if (unavailable != null) {
      err.println("vkernel: " + why + " and the emulated machine cannot start: " + unavailable);
      return 125;
    }
    err.println("vkernel: " + why + "; " + EmulatedMachine.NOTICE);
    return new EmulatedMachine().run(List.of("info", "--accel=kvm"), err);
  }
}
