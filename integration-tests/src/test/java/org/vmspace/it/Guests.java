package org.vmspace.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Running programs natively and under {@code vkernel run} (a separate JVM on this test's class
 * path, so the command line, its exit status and its stdio are what is tested), in the same
 * directory with the same environment, and comparing them.
 *
 * <p>The programs are Debian's (busybox-static, bash-static, mksh, musl-tools, gcc): a missing
 * one fails the test with the package to install, never skips it. The test classes are tagged
 * {@code @Tag("kvm")}: the build runs them where KVM is, natively or inside the emulated SVM
 * machine (scripts/kvm-java); without {@code /dev/kvm} they fail.
 */
final class Guests {
  /** Where the tests work: under target/, visible (read-only) to guests, unlike /tmp. */
  static final Path WORK = Path.of("target", "it-work").toAbsolutePath();
  /** busybox's applets as symbolic links, first on every PATH. */
  static final Path BIN = WORK.resolve("bin");
  static final String BUSYBOX = "/bin/busybox";
  static final Duration LIMIT = Duration.ofMinutes(3);

  /** What a run printed and how it ended. */
  record Result(int status, String stdout, String stderr) {
    @Override
    public String toString() {
      return "status " + status + "\n--- stdout:\n" + stdout + "--- stderr:\n" + stderr;
    }
  }

  private Guests() {}

  /** Fails without /dev/kvm (see the class comment). */
  static void requireKvm() {
    if (!Files.exists(Path.of("/dev/kvm"))) {
      throw new AssertionError("/dev/kvm is missing: a test that needs KVM must be tagged @Tag(\"kvm\"), which the build runs where KVM is "
          + "(natively, or in the emulated SVM machine: scripts/kvm-java)");
    }
  }

  /** Fails with the Debian package to install unless {@code program} exists. */
  static String require(String program, String debianPackage) {
    if (!Files.isExecutable(Path.of(program))) {
      throw new AssertionError(program + " is missing: apt-get install " + debianPackage + " (see README.md)");
    }
    return program;
  }

  /** Sets up WORK and BIN (busybox --install -s) once. */
  static synchronized void prepare() throws IOException, InterruptedException {
    requireKvm();
    require(BUSYBOX, "busybox-static");
    Files.createDirectories(WORK);
    if (!Files.exists(BIN.resolve("sh"))) {
      // Test classes run in parallel JVMs (forkCount): each installs into a directory of its
      // own and renames it into place; the first rename wins and the others' are thrown away.
      Path mine = Files.createTempDirectory(WORK, "bin-");
      Result r = runNative(List.of(BUSYBOX, "--install", "-s", mine.toString()), env(), null);
      assertThat(r.status()).as("busybox --install: %s", r).isZero();
      try {
        Files.move(mine, BIN, StandardCopyOption.ATOMIC_MOVE);
      } catch (FileSystemException e) { // rename(2): EEXIST or ENOTEMPTY
        if (!Files.exists(BIN.resolve("sh"))) {
          throw e;
        }
        try (var links = Files.list(mine)) {
          for (Path link : links.toList()) {
            Files.delete(link);
          }
        }
        Files.delete(mine);
      }
    }
  }

  /** The environment both sides get: busybox's applets first on PATH, the C locale. */
  static Map<String, String> env() {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("PATH", BIN + ":/usr/bin:/bin");
    env.put("HOME", WORK.toString());
    env.put("LC_ALL", "C");
    env.put("TZ", "UTC");
    return env;
  }

  static Result runNative(List<String> command, Map<String, String> env, Path stdin)
      throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(command).directory(WORK.toFile());
    pb.environment().clear();
    pb.environment().putAll(env);
    return run(pb, stdin);
  }

  /** {@code vkernel run [options] -- command} with the environment given (and only it). */
  static Result runVkernel(List<String> options, List<String> command, Map<String, String> env, Path stdin)
      throws IOException, InterruptedException {
    return runVkernel(options, command, env, stdin, LIMIT);
  }

  /** As {@link #runVkernel(List, List, Map, Path)}, failing after {@code limit} instead of {@link #LIMIT}. */
  static Result runVkernel(List<String> options, List<String> command, Map<String, String> env, Path stdin,
      Duration limit) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(javaCommand());
    cmd.add("run");
    // This machine's KVM or a failure: never a machine emulated inside the test's own.
    cmd.add("--accel=kvm");
    cmd.add("--clear-env");
    env.forEach((k, v) -> cmd.add("--env=" + k + "=" + v));
    cmd.addAll(options);
    cmd.add("--");
    cmd.addAll(command);
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(WORK.toFile());
    return run(pb, stdin, limit);
  }

  static Result runVkernel(List<String> command) throws IOException, InterruptedException {
    return runVkernel(List.of(), command, env(), null);
  }

  /** The java command line that runs the vkernel CLI with this test's class path. */
  static List<String> javaCommand() {
    String java = ProcessHandle.current().info().command().orElse(
        Path.of(System.getProperty("java.home"), "bin", "java").toString());
    List<String> cmd = new ArrayList<>();
    cmd.add(java);
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.add("-XX:+UseSerialGC");
    cmd.add("-XX:TieredStopAtLevel=1");
    if (System.getProperty("vmspace.kvm.where", "").startsWith("emulated")) {
      // As the launcher's emulated machine runs it (EmulatedMachine.JVM_OPTIONS): under TCG,
      // C1 compiling a short run's warm-up code costs more than it saves.
      cmd.addAll(List.of("-XX:Tier3InvocationThreshold=2000", "-XX:Tier3MinInvocationThreshold=1000",
          "-XX:Tier3CompileThreshold=20000", "-XX:Tier3BackEdgeThreshold=600000", "-XX:-UsePerfData"));
    }
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("org.vmspace.vkernel.cli.VkernelCommand");
    return cmd;
  }

  static Result run(ProcessBuilder pb, Path stdin) throws IOException, InterruptedException {
    return run(pb, stdin, LIMIT);
  }

  static Result run(ProcessBuilder pb, Path stdin, Duration limit) throws IOException, InterruptedException {
    pb.redirectInput(stdin == null ? ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())
        : ProcessBuilder.Redirect.from(stdin.toFile()));
    Process p = pb.start();
    CompletableFuture<String> out = drain(p.getInputStream());
    CompletableFuture<String> err = drain(p.getErrorStream());
    if (!p.waitFor(limit.toSeconds(), TimeUnit.SECONDS)) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      throw new AssertionError("did not finish in " + limit + ": " + pb.command());
    }
    return new Result(p.exitValue(), out.join(), err.join());
  }

  private static CompletableFuture<String> drain(InputStream in) {
    return drainBytes(in).thenApply(b -> new String(b, StandardCharsets.UTF_8));
  }

  /**
   * Runs each command, one after another, as a child of one busybox {@code sh}: natively when
   * {@code vkernel} is false, else in one {@code vkernel run} of that shell. One JVM start then
   * serves every command, where under the emulated machine a start costs more than most test
   * programs; both sides go through the same shell script, so each program sees the same parent,
   * environment, working directory and stdin ({@code /dev/null}) natively and in the vkernel.
   * Each command's stdout and stderr go to files in /tmp and come back on the shell's stdout
   * behind a header with their lengths, so every byte survives. A command still running after
   * {@code each} is killed by busybox {@code timeout} (status 137), whose watcher is not the
   * program's child and cannot disturb its waits.
   *
   * @return one result per command, in order
   */
  static List<Result> runBatch(boolean vkernel, List<List<String>> commands, Duration each)
      throws IOException, InterruptedException {
    // In the vkernel /tmp is the kernel's own; natively a directory of this batch's.
    String scratch = vkernel ? "/tmp" : Files.createTempDirectory(WORK, "batch-").toString();
    String out = shellQuote(scratch + "/out");
    String err = shellQuote(scratch + "/err");
    StringBuilder script = new StringBuilder();
    for (int i = 0; i < commands.size(); i++) {
      script.append("timeout -s KILL ").append(each.toSeconds());
      for (String arg : commands.get(i)) {
        script.append(' ').append(shellQuote(arg));
      }
      script.append(" >").append(out).append(" 2>").append(err).append(" </dev/null\n")
          .append("s=$?\n")
          .append("echo \"@@@ ").append(i).append(" $s $(wc -c <").append(out).append(") $(wc -c <").append(err)
          .append(")\"\n")
          .append("cat ").append(out).append(' ').append(err).append('\n');
    }
    List<String> shell = List.of(BIN.resolve("sh").toString(), "-c", script.toString());
    Duration limit = each.plusSeconds(30).multipliedBy(commands.size());
    ProcessBuilder pb;
    if (vkernel) {
      List<String> cmd = new ArrayList<>(javaCommand());
      cmd.addAll(List.of("run", "--accel=kvm", "--clear-env"));
      env().forEach((k, v) -> cmd.add("--env=" + k + "=" + v));
      cmd.add("--");
      cmd.addAll(shell);
      pb = new ProcessBuilder(cmd);
    } else {
      pb = new ProcessBuilder(shell);
      pb.environment().clear();
      pb.environment().putAll(env());
    }
    pb.directory(WORK.toFile()).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
    Process p = pb.start();
    CompletableFuture<byte[]> stdout = drainBytes(p.getInputStream());
    CompletableFuture<byte[]> stderrBytes = drainBytes(p.getErrorStream());
    boolean finished = p.waitFor(limit.toSeconds(), TimeUnit.SECONDS);
    if (!finished) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
    }
    List<Result> results = parseBatch(stdout.join());
    String where = (vkernel ? "vkernel" : "native") + " batch";
    String stderr = new String(stderrBytes.join(), StandardCharsets.UTF_8);
    assertThat(finished).as("%s did not finish in %s; %d of %d commands ended; stderr:%n%s", where, limit,
        results.size(), commands.size(), stderr).isTrue();
    assertThat(results).as("%s: every command reported (status %d); stderr:%n%s", where, p.exitValue(), stderr)
        .hasSize(commands.size());
    return results;
  }

  /**
   * Commands run natively and then in one vkernel by {@link #runBatch}, looked up by their
   * command line: a test class runs its whole table in {@code @BeforeAll} and each test asserts
   * on its own command.
   */
  static final class Batch {
    private final List<List<String>> commands;
    private final List<Result> natives;
    private final List<Result> vkernels;

    private Batch(List<List<String>> commands, List<Result> natives, List<Result> vkernels) {
      this.commands = commands;
      this.natives = natives;
      this.vkernels = vkernels;
    }

    /** Runs {@code commands} natively and in one vkernel, each for at most {@code each}. */
    static Batch run(List<List<String>> commands, Duration each) throws IOException, InterruptedException {
      List<List<String>> copy = List.copyOf(commands);
      return new Batch(copy, runBatch(false, copy, each), runBatch(true, copy, each));
    }

    /** As {@link Guests#assertSameAsNative(List)} for one command of the batch: the vkernel's result. */
    Result assertSameAsNative(List<String> command) {
      int i = commands.indexOf(command);
      assertThat(i).as("%s is in the batch", command).isNotNegative();
      Result expected = natives.get(i);
      Result actual = vkernels.get(i);
      assertThat(actual.stdout()).as("stdout of %s\nvkernel: %s\nnative: %s", command, actual, expected)
          .isEqualTo(expected.stdout());
      assertThat(actual.status()).as("status of %s\nvkernel: %s\nnative: %s", command, actual, expected)
          .isEqualTo(expected.status());
      return actual;
    }
  }

  /** The results a batch script printed: a header {@code @@@ i status outLength errLength}, then the bytes. */
  private static List<Result> parseBatch(byte[] b) {
    List<Result> results = new ArrayList<>();
    int at = 0;
    while (at < b.length) {
      int eol = at;
      while (eol < b.length && b[eol] != '\n') {
        eol++;
      }
      String[] h = new String(b, at, eol - at, StandardCharsets.US_ASCII).trim().split("\\s+");
      if (h.length != 5 || !h[0].equals("@@@") || Integer.parseInt(h[1]) != results.size()) {
        throw new AssertionError("batch output out of step at byte " + at + ": " + String.join(" ", h));
      }
      int outLength = Integer.parseInt(h[3]);
      int errLength = Integer.parseInt(h[4]);
      int start = eol + 1;
      results.add(new Result(Integer.parseInt(h[2]), new String(b, start, outLength, StandardCharsets.UTF_8),
          new String(b, start + outLength, errLength, StandardCharsets.UTF_8)));
      at = start + outLength + errLength;
    }
    return results;
  }

  private static String shellQuote(String arg) {
    return "'" + arg.replace("'", "'\\''") + "'";
  }

  private static CompletableFuture<byte[]> drainBytes(InputStream in) {
    return CompletableFuture.supplyAsync(() -> {
      try (in) {
        return in.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
  }

  /**
   * Runs {@code command} natively and in the vkernel and asserts the same stdout and status.
   *
   * @return the vkernel's result
   */
  static Result assertSameAsNative(List<String> command) throws IOException, InterruptedException {
    return assertSameAsNative(command, null);
  }

  static Result assertSameAsNative(List<String> command, Path stdin) throws IOException, InterruptedException {
    return assertSameAsNative(command, stdin, LIMIT);
  }

  /** As {@link #assertSameAsNative(List, Path)}, the vkernel's run limited to {@code limit}. */
  static Result assertSameAsNative(List<String> command, Path stdin, Duration limit)
      throws IOException, InterruptedException {
    Result expected = runNative(command, env(), stdin);
    Result actual = runVkernel(List.of(), command, env(), stdin, limit);
    assertThat(actual.stdout()).as("stdout of %s\nvkernel: %s\nnative: %s", command, actual, expected)
        .isEqualTo(expected.stdout());
    assertThat(actual.status()).as("status of %s\nvkernel: %s\nnative: %s", command, actual, expected)
        .isEqualTo(expected.status());
    return actual;
  }
}
