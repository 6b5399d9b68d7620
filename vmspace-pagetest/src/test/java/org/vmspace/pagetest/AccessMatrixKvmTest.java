package org.vmspace.pagetest;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The whole matrix on the machine and the model: no mismatch, with the known deviations only. */
@PageTableTest
class AccessMatrixKvmTest {
  @Test
  @Timeout(value = 30, unit = TimeUnit.MINUTES)
  void theMachineAgreesWithTheModelOnEveryCase(PageTableKit kit) {
    AccessMatrix.Report report = AccessMatrix.run(kit, AccessMatrix.cases(), AccessMatrix.knownDeviations(), 5);
    report.lines().forEach(l -> System.out.println("matrix: " + l));
    assertThat(report.cases()).isEqualTo(AccessMatrix.CASES);
    assertThat(report.mismatches()).as("%s", String.join("\n", report.lines())).isZero();
  }
}
