package org.vmspace.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One shell script (functions, loops, $(...), subshells, a here-document, pipes, trap, a
 * background job) run by busybox sh, by mksh built on three C libraries (musl, dietlibc, klibc:
 * the latter two call exit rather than exit_group, klibc sets up no TLS, dietlibc looks for the
 * vDSO), by bash-static and by Debian's dynamically linked bash, with the same output as natively.
 * All the runs go through one vkernel run of a shell ({@link Guests#runBatch}).
 */
@Tag("kvm")
class ShellTest {
  static final String KILL_TERM = "sleep 30 & pid=$!; sleep 0.3; kill -TERM $pid; wait $pid; echo \"status $?\"";
  static final List<String> SIGNAL_DEATH = List.of(Guests.BUSYBOX, "sh", "-c", "kill -KILL $$; echo not reached");
  static Path script;
  static Guests.Batch batch;

  // The whole table runs here: the 13 shell runs natively and in one vkernel (about 5 minutes emulated).
  @BeforeAll
  @Timeout(value = 15, unit = TimeUnit.MINUTES)
  static void setUp() throws Exception {
    Guests.prepare();
    script = Guests.WORK.resolve("features.sh");
    try (var in = ShellTest.class.getResourceAsStream("/scripts/features.sh")) {
      Files.write(script, in.readAllBytes());
    }
    // Every shell's runs natively, then all in one vkernel run (Guests.runBatch).
    List<List<String>> commands = new java.util.ArrayList<>();
    shells().forEach(a -> {
      String shell = (String) a.get()[0];
      Guests.require(shell.split(" ")[0], (String) a.get()[1]);
      commands.add(command(shell, script.toString()));
      commands.add(command(shell, "-c", KILL_TERM));
    });
    commands.add(SIGNAL_DEATH);
    batch = Guests.Batch.run(commands, Guests.LIMIT);
  }

  static Stream<Arguments> shells() {
    return Stream.of(
        Arguments.of(Guests.BUSYBOX + " sh", "busybox-static"),
        Arguments.of("/usr/lib/x86_64-linux-musl/bin/mksh", "mksh"),
        Arguments.of("/usr/lib/diet/bin/mksh", "mksh"),
        Arguments.of("/usr/lib/klibc/bin/mksh", "mksh"),
        Arguments.of("/bin/bash-static", "bash-static"),
        Arguments.of("/bin/bash", "bash")); // dynamically linked: ld.so, libtinfo, libc
  }

  private static List<String> command(String shell, String... rest) {
    String[] parts = shell.split(" ");
    java.util.List<String> cmd = new java.util.ArrayList<>(List.of(parts));
    cmd.addAll(List.of(rest));
    return cmd;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("shells")
  void theScriptRunsAsNatively(String shell, String debianPackage) {
    Guests.Result r = batch.assertSameAsNative(command(shell, script.toString()));
    assertThat(r.stdout()).contains("sum=55", "hello, WORLD", "| line two with 55", "trapped USR1", "bye from trap");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("shells")
  void killTermOfAChildFromTheShell(String shell, String debianPackage) {
    Guests.Result r = batch.assertSameAsNative(command(shell, "-c", KILL_TERM));
    assertThat(r.stdout()).isEqualTo("status 143\n");
  }

  @Test
  void aSignalDeathInsideIsReportedByTheShell() {
    Guests.Result r = batch.assertSameAsNative(SIGNAL_DEATH);
    assertThat(r.status()).isEqualTo(137);
  }
}
