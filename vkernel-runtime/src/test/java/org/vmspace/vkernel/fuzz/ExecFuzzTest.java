package org.vmspace.vkernel.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The exec fuzzer's run (issue 16, hostile files): {@code vkernel.fuzzCases} cases (default
 * 2,000, about 8 s) from seed {@code vkernel.fuzzSeed} (default 16), through the real execve
 * path on a model vmspace service; see {@link ExecFuzzer} for what each case must satisfy. The
 * long run is {@code -Dvkernel.fuzzCases=1000000} (docs/testing.md). Failing inputs are written
 * to {@code target/fuzz-failures}; the ones that found bugs are in {@code
 * src/test/resources/fuzz/regressions} and replayed by {@link ExecRegressionTest}.
 */
class ExecFuzzTest {
  @TempDir
  Path root;

  @Test
  void everyHostileFileEndsInAnErrnoOrAConsistentProgram() throws IOException {
    long cases = Long.getLong("vkernel.fuzzCases", 2000);
    long seed = Long.getLong("vkernel.fuzzSeed", 16);
    ExecFuzzer fuzzer = new ExecFuzzer(root, Path.of("target/fuzz-failures"));
    ExecFuzzer.Report report;
    try {
      report = fuzzer.run(seed, cases);
    } finally {
      fuzzer.close();
    }
    System.out.println("exec fuzz: seed " + seed + ": " + report);
    assertThat(report.failures).as(report.toString()).isEmpty();
    assertThat(report.cases).isEqualTo(cases);
    // The cases reach both ends: programs that load, and each kind of refusal.
    assertThat(report.loaded).as("loaded programs").isGreaterThan(cases / 20);
    assertThat(report.errnos).as(report.toString()).containsKeys("ENOEXEC", "ENOENT", "EACCES", "ELOOP", "ELIBBAD");
    assertThat(report.exactChecks).as("cases checked against Linux's exact outcome").isGreaterThan(cases / 10);
  }
}
