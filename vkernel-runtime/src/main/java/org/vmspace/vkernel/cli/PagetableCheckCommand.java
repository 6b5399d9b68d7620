package org.vmspace.vkernel.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.vmspace.api.BackendInfo;
import org.vmspace.api.Vmspaces;
import org.vmspace.pagetest.AccessMatrix;
import org.vmspace.pagetest.PageTableKit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code vkernel pagetable-check}: runs the page-table kit's access matrix (every combination of
 * PTE and PDE bits that matters, times a user read, write and fetch) on this machine's KVM and on
 * the reference model, prints the mismatches (the first {@code --list}) and the known host
 * deviations with their counts, and ends with exactly one line
 * {@code cases=N mismatches=M host-deviations=K where=native-FLAVOUR|emulated-svm npt=on|off}.
 * The status is 0 only without mismatches. Where KVM is not usable (or with {@code
 * --accel=emulated}) the same check runs inside the emulated SVM machine, {@code --npt off}
 * booting it with shadow paging.
 */
@Command(name = "pagetable-check",
    description = "Check the machine's page-table walks against the reference model (kvm-unit-tests' access.c matrix).",
    sortOptions = false)
final class PagetableCheckCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @CommandLine.Mixin Accel accel = new Accel();

  @Option(names = "--npt", paramLabel = "on|off", defaultValue = "on",
      description = "In the emulated machine: nested paging (on, default) or shadow paging (off).")
  String npt = "on";

  @Option(names = "--list", paramLabel = "N", defaultValue = "20", description = "How many mismatches to print (default 20).")
  int listed = 20;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    String mode = npt.toLowerCase(Locale.ROOT);
    if (!mode.equals("on") && !mode.equals("off")) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--npt '" + npt + "': want on or off");
    }
    if (listed < 0) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--list " + listed + ": want 0 or more");
    }
    if (accel.forcesEmulation()) {
      return emulated(err, "--accel=emulated asks for it", mode);
    }
    List<BackendInfo> backends = Vmspaces.probe();
    BackendInfo best = backends.stream().filter(BackendInfo::available).findFirst().orElse(null);
    if (best == null) {
      BackendInfo kvm = backends.stream().filter(b -> b.backend().equals("kvm")).findFirst().orElse(null);
      String why = kvm == null ? "no KVM backend on the class path" : kvm.summary();
      if (accel.mayEmulate()) {
        return emulated(err, EmulatedMachine.whyNotKvm(why), mode);
      }
      err.println("vkernel: KVM is not usable here (" + why + ") and --accel=kvm refuses the emulated machine");
      return 125;
    }
    if (!mode.equals("on") && System.getProperty("vmspace.kvm.where") == null) {
      err.println("vkernel: --npt off applies to the emulated machine only; natively KVM pages as this host does");
      return 2;
    }
    AccessMatrix.Report report;
    try (PageTableKit kit = PageTableKit.open()) {
      report = AccessMatrix.run(kit, AccessMatrix.cases(), AccessMatrix.knownDeviations(), listed);
    }
    for (String line : report.lines()) {
      out.println(line);
    }
    out.println(summary(report.cases(), report.mismatches(), report.deviated(),
        where(report.where(), best.details().getOrDefault("flavour", "unknown"))));
    out.flush();
    return report.mismatches() == 0 ? 0 : 1;
  }

  /** The last line. */
  static String summary(int cases, int mismatches, int deviated, String where) {
    return "cases=" + cases + " mismatches=" + mismatches + " host-deviations=" + deviated + " where=" + where;
  }

  /**
   * The {@code where=} value: {@code native-FLAVOUR} on this machine's KVM, {@code emulated-svm
   * npt=on|off} inside the emulated machine (whose JVM has {@code vmspace.kvm.where} set).
   */
  static String where(String kvmWhere, String flavour) {
    if (kvmWhere.startsWith("emulated-svm-npt-")) {
      return "emulated-svm npt=" + kvmWhere.substring("emulated-svm-npt-".length());
    }
    return "native-" + flavour.toLowerCase(Locale.ROOT).replace(' ', '-');
  }

  private int emulated(PrintWriter err, String why, String mode) throws Exception {
    String unavailable = EmulatedMachine.whyUnavailable();
    if (unavailable != null) {
      err.println("vkernel: " + why + " and the emulated machine cannot start: " + unavailable);
      return 125;
    }
    err.println("vkernel: " + why + "; " + EmulatedMachine.NOTICE + (mode.equals("off") ? ", shadow paging" : ""));
    return new EmulatedMachine().npt(mode).systemProperty("vmspace.kvm.where", "emulated-svm-npt-" + mode)
        .run(List.of("pagetable-check", "--accel=kvm", "--list=" + listed), err);
  }
}
