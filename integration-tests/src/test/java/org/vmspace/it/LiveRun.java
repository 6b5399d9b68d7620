package org.vmspace.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A {@code vkernel run} that a test talks to while it runs: its stdout line by line, each wait
 * bounded (a pipe read cannot be interrupted, so a reader thread feeds a queue), its stdin open
 * to the test, its stderr collected. {@link #close()} kills it and its descendants, so that a
 * failed or timed-out test never leaves a guest running that a later read would wait for.
 */
final class LiveRun implements AutoCloseable {
  private static final String EOF = new String("end of stdout");
  final Process process;
  private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
  private final CompletableFuture<String> stderr;

  private LiveRun(Process process) {
    this.process = process;
    this.stderr = CompletableFuture.supplyAsync(() -> readAll(process.getErrorStream()));
    Thread.ofPlatform().daemon().name("vkernel stdout").start(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          lines.add(line);
        }
      } catch (IOException e) {
        // The process was killed: its stdout ends here.
      } finally {
        lines.add(EOF);
      }
    });
  }

  /** {@code vkernel run [options] -- command} in {@link Guests#WORK} with {@link Guests#env()}. */
  static LiveRun start(List<String> options, List<String> command, boolean stdinFromTest) throws IOException {
    // SIGINT, SIGTERM and SIGHUP at their defaults, whatever this JVM inherited: a Maven run
    // from a background job of a non-interactive shell ignores SIGINT, the vkernel would inherit
    // that, and no Ctrl-C of a test would reach it (coreutils' env execs: the pid is the JVM's).
    List<String> cmd = new ArrayList<>(List.of("/usr/bin/env", "--default-signal=INT,TERM,HUP"));
    cmd.addAll(Guests.javaCommand());
    cmd.addAll(List.of("run", "--accel=kvm", "--clear-env"));
    Guests.env().forEach((k, v) -> cmd.add("--env=" + k + "=" + v));
    cmd.addAll(options);
    cmd.add("--");
    cmd.addAll(command);
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(Guests.WORK.toFile());
    if (!stdinFromTest) {
      pb.redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
    }
    return new LiveRun(pb.start());
  }

  /**
   * The next line of stdout, or null at its end.
   *
   * @throws AssertionError if none comes within {@code limit}
   */
  String nextLine(Duration limit) throws InterruptedException {
    String line = lines.poll(limit.toMillis(), TimeUnit.MILLISECONDS);
    if (line == null) {
      throw new AssertionError("no line from the vkernel within " + limit + (process.isAlive() ? " (still running)" : ""));
    }
    return line == EOF ? null : line;
  }

  /** The process's stdin, which the guest reads. */
  OutputStream stdin() {
    return process.getOutputStream();
  }

  /** Sends the vkernel's JVM a signal by name (INT, TERM, HUP), as a terminal or kill would. */
  void signal(String name) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder(Guests.BUSYBOX, "kill", "-" + name, Long.toString(process.pid())).start();
    if (kill.waitFor() != 0) {
      throw new AssertionError("kill -" + name + " " + process.pid() + " failed");
    }
  }

  /** Whether it ended within {@code limit}. */
  boolean waitFor(Duration limit) throws InterruptedException {
    return process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Its stderr once it has ended, else a note that it still runs. */
  String stderr() {
    return process.isAlive() ? "(still running)" : stderr.join();
  }

  @Override
  public void close() {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
  }

  private static String readAll(InputStream in) {
    try {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }
}
