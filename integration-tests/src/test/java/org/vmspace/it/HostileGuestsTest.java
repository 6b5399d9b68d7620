package org.vmspace.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Guests that never end on their own ({@code stuck.c}: a writer blocked on a pipe nobody reads,
 * two processes storming each other with signals, a process that blocks every signal and spins,
 * a process with {@code vkernel.stuck.threads} threads, default 200, and a first process that
 * blocks every signal) are still ended by the vkernel: by a second Ctrl-C (the first goes to the
 * guest, which blocks it) and by {@code --timeout}. The times from the second SIGINT, and past the
 * timeout, to the vkernel's exit are printed (under emulation they are tens of times the native
 * ones; only a hang fails the test).
 */
@Tag("kvm")
class HostileGuestsTest {
  private static final int THREADS = Integer.getInteger("vkernel.stuck.threads", 200);
  /** A run that does not end this long after it was told to is a hang. */
  private static final Duration HANG = Duration.ofSeconds(90);
  private static Path program;

  @BeforeAll
  static void setUp() throws Exception {
    Guests.prepare();
    program = Path.of("target", "cbin", "stuck-musl").toAbsolutePath();
    assertThat(program).as("compiled by the build (src/test/c/build.sh)").isExecutable();
  }

  @Test
  @Timeout(value = 10, unit = TimeUnit.MINUTES)
  void aSecondCtrlCAndATimeoutEndGuestsThatBlockEverySignal() throws Exception {
    // Ctrl-C: the first SIGINT goes to the foreground group (the first process and the spinner
    // block it; the others die of it), the second kills everything.
    long start = System.nanoTime();
    Run ctrlC = Run.start(List.of("--pids=" + (THREADS + 64)));
    String ready = ctrlC.awaitReady();
    long setupNanos = System.nanoTime() - start;
    assertThat(ready).as("stdout; stderr: %s", ctrlC.stderr()).isEqualTo("ready: " + THREADS + " threads");
    ctrlC.signal("INT");
    assertThat(ctrlC.process.waitFor(3, TimeUnit.SECONDS)).as("the first SIGINT is the guest's, which blocks it").isFalse();
    long t0 = System.nanoTime();
    ctrlC.signal("INT");
    assertThat(ctrlC.process.waitFor(HANG.toSeconds(), TimeUnit.SECONDS)).as("ended by the second SIGINT").isTrue();
    long ctrlCNanos = System.nanoTime() - t0;
    assertThat(ctrlC.stderr()).contains("vkernel: SIGINT again: killing every guest process");
    assertThat(ctrlC.process.exitValue()).as("the first process was killed: %s", ctrlC.stderr()).isEqualTo(128 + 9);

    // --timeout: long enough for the same set-up (measured above) to finish first.
    long timeoutSeconds = TimeUnit.NANOSECONDS.toSeconds(setupNanos) * 3 / 2 + 10;
    start = System.nanoTime();
    Run timed = Run.start(List.of("--pids=" + (THREADS + 64), "--timeout=" + timeoutSeconds + "s"));
    assertThat(timed.awaitReady()).as("stderr: %s", timed.stderr()).isEqualTo("ready: " + THREADS + " threads");
    assertThat(timed.process.waitFor(timeoutSeconds + HANG.toSeconds(), TimeUnit.SECONDS)).as("ended by the timeout").isTrue();
    long overrunMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) - timeoutSeconds * 1000;
    assertThat(timed.process.exitValue()).as("stderr: %s", timed.stderr()).isEqualTo(124);
    assertThat(timed.stderr()).contains("timed out after " + timeoutSeconds + "s");
    System.out.printf("hostile guests (%d threads, %s): set-up %d ms; second Ctrl-C to exit %d ms; "
        + "exit at most %d ms past a %d s timeout (the JVM's start included)%n", THREADS,
        System.getProperty("vmspace.kvm.where", "native"), TimeUnit.NANOSECONDS.toMillis(setupNanos),
        TimeUnit.NANOSECONDS.toMillis(ctrlCNanos), overrunMillis, timeoutSeconds);
  }

  /** A vkernel running stuck.c, its stdout read line by line, its stderr collected. */
  private record Run(Process process, BufferedReader stdout, CompletableFuture<String> stderrText) {
    static Run start(List<String> options) throws IOException {
      List<String> cmd = new ArrayList<>(Guests.javaCommand());
      cmd.addAll(List.of("run", "--accel=kvm", "--clear-env"));
      Guests.env().forEach((k, v) -> cmd.add("--env=" + k + "=" + v));
      cmd.addAll(options);
      cmd.addAll(List.of("--", program.toString(), Integer.toString(THREADS)));
      Process p = new ProcessBuilder(cmd).directory(Guests.WORK.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
      CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
      return new Run(p, new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)), err);
    }

    String awaitReady() throws IOException {
      String line = stdout.readLine();
      return line == null ? "(no output)" : line;
    }

    void signal(String name) throws IOException, InterruptedException {
      Process kill = new ProcessBuilder(Guests.BUSYBOX, "kill", "-" + name, Long.toString(process.pid())).start();
      assertThat(kill.waitFor()).isZero();
    }

    String stderr() {
      if (process.isAlive()) {
        return "(still running)";
      }
      return stderrText.join();
    }
  }

  private static String readAll(InputStream in) {
    try {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }
}
