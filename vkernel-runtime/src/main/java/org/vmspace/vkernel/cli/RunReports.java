package org.vmspace.vkernel.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import jdk.jfr.Recording;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceService;
import org.vmspace.vkernel.proc.Kernel;
import org.vmspace.vkernel.stats.StatsReport;
import org.vmspace.vkernel.syscall.Syscalls;

/**
 * What {@code vkernel run --stats} and {@code --jfr=FILE} add to a run: the statistics table on
 * stderr once the program's process tree has ended, and a flight recording of the exit,
 * revocation and system-call events (only those) dumped to FILE when the run is over.
 */
final class RunReports implements AutoCloseable {
  /** The events {@code --jfr} records, all disabled unless a recording enables them. */
  static final String[] EVENTS = {"org.vmspace.Exit", "org.vmspace.Revocation", "org.vmspace.Syscall"};

  private final PrintWriter err;
  private final boolean stats;
  private final Path jfr;
  private final Recording recording;

  private RunReports(PrintWriter err, boolean stats, Path jfr, Recording recording) {
    this.err = err;
    this.stats = stats;
    this.jfr = jfr;
    this.recording = recording;
  }

  /**
   * Starts the recording if {@code jfr} is given (before any guest runs, so it sees every exit).
   *
   * @param jfr where to dump the recording at the end, or null for none
   */
  static RunReports start(PrintWriter err, boolean stats, Path jfr) {
    Recording recording = null;
    if (jfr != null) {
      recording = new Recording();
      recording.setName("vkernel");
      for (String event : EVENTS) {
        recording.enable(event).withoutStackTrace();
      }
      recording.start();
    }
    return new RunReports(err, stats, jfr, recording);
  }

  /** Prints the --stats table, if asked, for everything the kernel and the service counted. */
  void report(Kernel kernel, VmspaceService vms) {
    if (!stats) {
      return;
    }
    try {
      err.print(StatsReport.format(vms.exitStatistics(), kernel.statistics(), Syscalls::nameOf));
    } catch (VmspaceException e) {
      err.println("vkernel: --stats: " + e.getMessage());
    }
    err.flush();
  }

  /** Stops the recording and writes it to the --jfr file (one line on stderr if it cannot). */
  @Override
  public void close() {
    if (recording != null) {
      try {
        recording.stop();
        recording.dump(jfr);
      } catch (IOException e) {
        err.println("vkernel: --jfr " + jfr + ": " + e.getMessage());
      } finally {
        recording.close();
      }
    }
  }
}
