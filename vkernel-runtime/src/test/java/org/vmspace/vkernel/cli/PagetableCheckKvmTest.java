package org.vmspace.vkernel.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code vkernel pagetable-check --accel=kvm} end to end, in this (KVM) test JVM: the whole
 * matrix runs, and the output ends with exactly one summary line in the documented format.
 */
@Tag("kvm")
@Tag("shadow-paging")
class PagetableCheckKvmTest {
  @Test
  @Timeout(value = 30, unit = java.util.concurrent.TimeUnit.MINUTES)
  void theMatrixPassesAndTheLastLineSaysSo() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = VkernelCommand.execute(new String[] {"pagetable-check", "--accel=kvm", "--list=3"},
        new PrintWriter(out, true), new PrintWriter(err, true));
    List<String> lines = out.toString().lines().toList();
    System.out.println(out);
    String where = System.getProperty("vmspace.kvm.where", "native");
    String whereLabel = where.startsWith("emulated-svm-npt-")
        ? "emulated-svm npt=" + where.substring("emulated-svm-npt-".length()) : "native-[a-z-]+";
    assertThat(lines).as("stdout %s stderr %s", out, err).isNotEmpty();
    assertThat(lines.getLast()).matches("cases=25152 mismatches=0 host-deviations=\\d+ where=" + whereLabel);
    assertThat(lines.stream().filter(l -> l.startsWith("cases="))).hasSize(1);
    assertThat(status).isZero();
    assertThat(err.toString()).isEmpty();
  }
}
