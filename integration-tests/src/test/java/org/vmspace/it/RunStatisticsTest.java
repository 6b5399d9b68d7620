package org.vmspace.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code vkernel run --stats --jfr=FILE} on a small process tree (busybox sh running a static
 * musl program twice: sh forks for the first and execs the second itself), in one run since each
 * costs a JVM start: the table's deterministic counts are exact, every system call the kernel
 * counted is one syscall exit of the service, and the recording holds the same events. The
 * recording is read with {@code jdk.jfr.consumer.RecordingFile}, the parser the JDK's {@code jfr
 * print} uses, in this JVM: a {@code jfr} process would be one more JVM start under emulation.
 */
@Tag("kvm")
class RunStatisticsTest {
  private static final Pattern KIND = Pattern.compile("^  (syscall|page fault|trap|interrupt|demand fault|other) +(\\d+)   .*$");
  private static final Pattern TOTAL = Pattern.compile("^(exits|revocation batches|system calls|faults to signals) +(\\d+)\\b.*$");
  private static final Pattern CALL = Pattern.compile("^  ([a-z_0-9]+) +(\\d+) +\\d+\\.\\d{3}$");

  @BeforeAll
  static void setUp() throws Exception {
    Guests.prepare();
  }

  @Test
  void statsAndJfrCountEveryExitAndSystemCallOfTheProcessTree() throws Exception {
    Path hello = Path.of("target", "cbin", "hello-musl").toAbsolutePath();
    assertThat(hello).as("compiled by the build (src/test/c/build.sh)").isExecutable();
    Path jfr = Guests.WORK.resolve("stats-run.jfr");
    Files.deleteIfExists(jfr);
    Guests.Result r = Guests.runVkernel(List.of("--stats", "--jfr=" + jfr),
        List.of(Guests.BUSYBOX, "sh", "-c", hello + " a; " + hello + " b"), Guests.env(), null);
    assertThat(r.stdout()).as("%s", r).isEqualTo("hello, world: 1 argument(s) [a]\nhello, world: 1 argument(s) [b]\n");
    assertThat(r.status()).as("%s", r).isEqualTo(7);

    Map<String, Long> kinds = new HashMap<>();
    Map<String, Long> totals = new HashMap<>();
    Map<String, Long> calls = new HashMap<>();
    boolean inCalls = false;
    for (String line : r.stderr().split("\n")) {
      Matcher k = KIND.matcher(line);
      Matcher t = TOTAL.matcher(line);
      Matcher c = CALL.matcher(line);
      if (t.matches()) {
        totals.put(t.group(1), Long.parseLong(t.group(2)));
        inCalls = t.group(1).equals("system calls");
      } else if (inCalls && c.matches()) {
        calls.put(c.group(1), Long.parseLong(c.group(2)));
      } else if (k.matches()) {
        kinds.put(k.group(1), Long.parseLong(k.group(2)));
      }
    }
    assertThat(r.stderr()).as("%s", r).contains("vkernel stats: 2 processes, 2 threads\n");
    assertThat(calls).as("%s", r).containsEntry("exit_group", 2L).containsEntry("execve", 2L)
        .containsEntry("clone", 1L).containsEntry("writev", 2L);
    long syscalls = totals.get("system calls");
    assertThat(calls.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(syscalls);
    assertThat(kinds.get("syscall")).as("each system call is one syscall exit: %s", r).isEqualTo(syscalls);
    assertThat(kinds.get("page fault")).isZero();
    assertThat(kinds.get("trap")).isZero();
    assertThat(totals.get("faults to signals")).isZero();
    assertThat(kinds.get("demand fault")).as("exec'd images are faulted in").isPositive();
    assertThat(totals.get("revocation batches")).as("exec and exit unmap what was mapped").isPositive();
    assertThat(kinds.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(totals.get("exits"));

    List<RecordedEvent> events = RecordingFile.readAllEvents(jfr);
    Map<String, Long> exitKinds = new HashMap<>();
    Map<String, Long> callNames = new HashMap<>();
    long revocations = 0;
    for (RecordedEvent e : events) {
      switch (e.getEventType().getName()) {
        case "org.vmspace.Exit" -> exitKinds.merge(e.getString("kind"), 1L, Long::sum);
        case "org.vmspace.Syscall" -> callNames.merge(e.getString("name"), 1L, Long::sum);
        case "org.vmspace.Revocation" -> revocations++;
        default -> { }
      }
    }
    assertThat(callNames).as("system-call events").isEqualTo(calls);
    assertThat(exitKinds.getOrDefault("syscall", 0L)).isEqualTo(syscalls);
    assertThat(exitKinds.getOrDefault("demandFault", 0L)).isEqualTo(kinds.get("demand fault"));
    assertThat(exitKinds.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(totals.get("exits"));
    // The table is printed when the tree has ended; tearing the vmspaces down comes after.
    assertThat(revocations).isGreaterThanOrEqualTo(totals.get("revocation batches"));
  }
}
