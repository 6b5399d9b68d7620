package org.vmspace.vkernel.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmspace.vkernel.stats.SyscallEvent;

/** --jfr's recording: off until started, then only the vmspace events, dumped to the file. */
class RunReportsTest {
  @TempDir Path dir;

  private static void syscall(long nr) {
    if (SyscallEvent.TYPE.isEnabled()) {
      SyscallEvent e = new SyscallEvent();
      e.begin();
      e.number = nr;
      e.name = "getpid";
      e.pid = 2;
      e.tid = 2;
      e.commit();
    }
  }

  @Test
  void theRecordingHoldsTheEventsCommittedWhileItRan() throws Exception {
    assertThat(SyscallEvent.TYPE.isEnabled()).as("off by default").isFalse();
    Path file = dir.resolve("run.jfr");
    StringWriter err = new StringWriter();
    syscall(1);
    RunReports reports = RunReports.start(new PrintWriter(err), false, file);
    assertThat(SyscallEvent.TYPE.isEnabled()).isTrue();
    syscall(39);
    syscall(39);
    reports.close();
    assertThat(SyscallEvent.TYPE.isEnabled()).as("off again").isFalse();
    syscall(2);
    assertThat(err.toString()).isEmpty();
    List<RecordedEvent> events = RecordingFile.readAllEvents(file);
    assertThat(events).allSatisfy(e -> assertThat(e.getEventType().getName()).startsWith("org.vmspace."));
    assertThat(events).extracting(e -> e.getLong("number")).containsExactly(39L, 39L);
    assertThat(events.getFirst().getString("name")).isEqualTo("getpid");
  }

  @Test
  void aFileThatCannotBeWrittenIsOneLine() throws Exception {
    Path file = dir.resolve("no-such-directory").resolve("run.jfr");
    StringWriter err = new StringWriter();
    RunReports reports = RunReports.start(new PrintWriter(err, true), false, file);
    syscall(39);
    reports.close();
    assertThat(err.toString()).startsWith("vkernel: --jfr " + file + ": ").hasLineCount(1);
    assertThat(Files.exists(file)).isFalse();
  }
}
