package org.vmspace.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
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
 * guest, which blocks it and says so when it takes it with sigwaitinfo) and, without the threads,
 * by {@code --timeout}. The times from the second SIGINT, and past the
 * timeout, to the vkernel's exit are printed (under emulation they are tens of times the native
 * ones; only a hang fails the test).
 */
@Tag("kvm")
class HostileGuestsTest {
  private static final int THREADS = Integer.getInteger("vkernel.stuck.threads", 200);
  private static final int BOMB_PIDS = Integer.getInteger("vkernel.threadBomb.pids", 300);
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
    long setupNanos;
    long ctrlCNanos;
    try (LiveRun ctrlC = LiveRun.start(List.of("--pids=" + (THREADS + 64)), command(THREADS), false)) {
      String ready = ctrlC.nextLine(HANG.multipliedBy(3));
      setupNanos = System.nanoTime() - start;
      assertThat(ready).as("stdout; stderr: %s", ctrlC.stderr()).isEqualTo("ready: " + THREADS + " threads");
      ctrlC.signal("INT");
      // The witness: the first process, which blocks every signal, takes it with sigwaitinfo.
      assertThat(ctrlC.nextLine(HANG)).as("the first SIGINT is the guest's, which blocks it").isEqualTo("SIGINT taken");
      assertThat(ctrlC.process.isAlive()).as("still running after the first SIGINT").isTrue();
      long t0 = System.nanoTime();
      ctrlC.signal("INT");
      assertThat(ctrlC.waitFor(HANG)).as("ended by the second SIGINT").isTrue();
      ctrlCNanos = System.nanoTime() - t0;
      assertThat(ctrlC.stderr()).contains("vkernel: SIGINT again: killing every guest process");
      assertThat(ctrlC.process.exitValue()).as("the first process was killed: %s", ctrlC.stderr()).isEqualTo(128 + 9);
    }

    // --timeout, on the same guests without the threads (the Ctrl-C run had them): long enough
    // for the set-up measured above, more than this one's, to finish first.
    long timeoutSeconds = TimeUnit.NANOSECONDS.toSeconds(setupNanos) + 5;
    long overrunMillis;
    start = System.nanoTime();
    try (LiveRun timed = LiveRun.start(List.of("--timeout=" + timeoutSeconds + "s"), command(0), false)) {
      assertThat(timed.nextLine(HANG.multipliedBy(3))).as("stderr: %s", timed.stderr()).isEqualTo("ready: 0 threads");
      assertThat(timed.waitFor(HANG.plusSeconds(timeoutSeconds))).as("ended by the timeout").isTrue();
      overrunMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) - timeoutSeconds * 1000;
      assertThat(timed.process.exitValue()).as("stderr: %s", timed.stderr()).isEqualTo(124);
      assertThat(timed.stderr()).contains("timed out after " + timeoutSeconds + "s");
    }
    System.out.printf("hostile guests (%d threads, %s): set-up %d ms; second Ctrl-C to exit %d ms; "
        + "exit at most %d ms past a %d s timeout (the JVM's start included)%n", THREADS,
        System.getProperty("vmspace.kvm.where", "native"), TimeUnit.NANOSECONDS.toMillis(setupNanos),
        TimeUnit.NANOSECONDS.toMillis(ctrlCNanos), overrunMillis, timeoutSeconds);
  }

  /** The bomb's "ready" line: EAGAIN with at most the threads the pids cap leaves room for. */
  private static void assertBoundedBomb(String ready, java.util.regex.Pattern capped, Object stderr) {
    java.util.regex.Matcher m = capped.matcher(ready == null ? "" : ready);
    assertThat(m.matches()).as("stdout %s; stderr: %s", ready, stderr).isTrue();
    assertThat(Integer.parseInt(m.group(1))).as("threads under --pids=%d", BOMB_PIDS).isBetween(1, BOMB_PIDS - 2);
    if (Integer.parseInt(m.group(1)) != BOMB_PIDS - 2) {
      System.out.println("thread bomb: EAGAIN before the cap: " + ready);
    }
  }

  /**
   * A thread bomb under {@code --pids} ({@code vkernel.threadBomb.pids}, default 300; issue 16's
   * 10^4 with {@code -Dvkernel.threadBomb.pids=10002}): stuck.c's thread-making process alone
   * asks for a million threads, and pthread_create fails with EAGAIN once the cap holds every
   * task (the first process, the bomb's main thread and its threads), or before; then the first Ctrl-C
   * reaches the guest, the second ends the run, and {@code --timeout} ends the same bomb. The
   * times are printed.
   */
  @Test
  @Timeout(value = 15, unit = TimeUnit.MINUTES)
  void aThreadBombStopsAtThePidsCapAndCtrlCAndTheTimeoutStillEndIt() throws Exception {
    List<String> bomb = List.of(program.toString(), "1000000", "alone");
    // EAGAIN at the cap, or before it: one CI run on a loaded host (2026-12-07, native PVM,
    // another test JVM running beside it) saw "ready: 143 threads, then EAGAIN" under
    // --pids=300, where alone it is 298 every time; the cause (a new thread that waits too long
    // for a vCPU is one candidate) is not established. What must hold is the bound: never more
    // threads than the cap allows, and EAGAIN, not a crash or a hang.
    java.util.regex.Pattern capped = java.util.regex.Pattern.compile("ready: (\\d+) threads, then EAGAIN");
    long start = System.nanoTime();
    long setupNanos;
    long ctrlCNanos;
    try (LiveRun ctrlC = LiveRun.start(List.of("--pids=" + BOMB_PIDS), bomb, false)) {
      String ready = ctrlC.nextLine(HANG.multipliedBy(10));
      setupNanos = System.nanoTime() - start;
      assertBoundedBomb(ready, capped, ctrlC.stderr());
      ctrlC.signal("INT");
      assertThat(ctrlC.nextLine(HANG)).as("the first SIGINT is the guest's").isEqualTo("SIGINT taken");
      long t0 = System.nanoTime();
      ctrlC.signal("INT");
      assertThat(ctrlC.waitFor(HANG)).as("ended by the second SIGINT").isTrue();
      ctrlCNanos = System.nanoTime() - t0;
      assertThat(ctrlC.process.exitValue()).as("stderr: %s", ctrlC.stderr()).isEqualTo(128 + 9);
    }
    // Twice the set-up measured above: with 10^4 threads it varies by more than the 5 s of
    // margin from run to run on a loaded host, and a timeout before "ready" fails the test.
    long timeoutSeconds = 2 * TimeUnit.NANOSECONDS.toSeconds(setupNanos) + 5;
    long overrunMillis;
    start = System.nanoTime();
    try (LiveRun timed = LiveRun.start(List.of("--pids=" + BOMB_PIDS, "--timeout=" + timeoutSeconds + "s"), bomb, false)) {
      assertBoundedBomb(timed.nextLine(HANG.multipliedBy(10)), capped, timed.stderr());
      assertThat(timed.waitFor(HANG.plusSeconds(timeoutSeconds))).as("ended by the timeout").isTrue();
      overrunMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) - timeoutSeconds * 1000;
      assertThat(timed.process.exitValue()).as("stderr: %s", timed.stderr()).isEqualTo(124);
    }
    System.out.printf("thread bomb (--pids=%d, %s): up to %d threads in %d ms (the JVM's start included); second Ctrl-C"
        + " to exit %d ms; exit at most %d ms past a %d s timeout%n", BOMB_PIDS,
        System.getProperty("vmspace.kvm.where", "native"), BOMB_PIDS - 2, TimeUnit.NANOSECONDS.toMillis(setupNanos),
        TimeUnit.NANOSECONDS.toMillis(ctrlCNanos), overrunMillis, timeoutSeconds);
  }

  private static List<String> command(int threads) {
    return List.of(program.toString(), Integer.toString(threads));
  }
}
