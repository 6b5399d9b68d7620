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
    return CompletableFuture.supplyAsync(() -> {
      try (in) {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
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
