package org.vmspace.vkernel.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/** {@code vkernel pagetable-check}'s last line and its refusals (no guest runs here). */
class PagetableCheckCommandTest {
  @Test
  void theLastLineNamesCasesMismatchesDeviationsAndWhere() {
    assertThat(PagetableCheckCommand.summary(25152, 0, 15456, PagetableCheckCommand.where("emulated-svm-npt-on", "standard")))
        .isEqualTo("cases=25152 mismatches=0 host-deviations=15456 where=emulated-svm npt=on");
    assertThat(PagetableCheckCommand.where("emulated-svm-npt-off", "standard")).isEqualTo("emulated-svm npt=off");
    assertThat(PagetableCheckCommand.where("native", "pvm")).isEqualTo("native-pvm");
    assertThat(PagetableCheckCommand.where("native", "standard")).isEqualTo("native-standard");
  }

  @Test
  void aBadNptIsAUsageError() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = VkernelCommand.execute(new String[] {"pagetable-check", "--npt", "maybe"}, new PrintWriter(out, true),
        new PrintWriter(err, true));
    assertThat(status).isEqualTo(2);
    assertThat(err.toString()).contains("--npt 'maybe': want on or off");
    assertThat(out.toString()).isEmpty();
  }
}
