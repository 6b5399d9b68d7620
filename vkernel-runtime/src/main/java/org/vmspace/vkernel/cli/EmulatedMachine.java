package org.vmspace.vkernel.cli;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.vmspace.vkernel.host.Host;

/**
 * The fallback for machines that cannot run guest code: the same vkernel command, run inside an
 * emulated x86-64 machine with AMD SVM. The {@code svm-machine} script bundled in this jar boots
 * it with QEMU's TCG emulator and the host's own Debian kernel, whose {@code kvm_amd} offers a
 * standard {@code /dev/kvm}; inside, this JVM's {@code java} and class path run the vkernel with
 * {@code --accel=kvm}.
 *
 * <p>What the guest sees does not change: the host's {@code /} read-only with a private writable
 * {@code /tmp} over the host's (the machine's {@code /tmp} is itself the host's under a private
 * overlay), the working directory, and the directories given to {@link #shareWritable} writable
 * at their own paths. The caller's stdin, stdout and stderr are the inner vkernel's (they stream
 * through virtio ports), SIGINT, SIGTERM and SIGHUP sent to this JVM are forwarded to it, and its
 * exit status is returned. Everything inside runs tens of times slower than on the host.
 *
 * <p>Not thread-safe; one instance runs one command.
 */
final class EmulatedMachine {
  /** What the one line on stderr says when the machine is used. */
  static final String NOTICE = "running in an emulated SVM machine (QEMU TCG, about 50x slower)";
  private static final String SCRIPT = "svm-machine";
  /**
   * The inner JVM: no C2 and C1 only for code run thousands of times (under TCG compile time
   * dominates a short run: measured inside, {@code busybox true} 14 s instead of 17-21 s with
   * C1's usual thresholds), a small serial GC.
   */
  static final List<String> JVM_OPTIONS = List.of(
      "--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1",
      "-XX:Tier3InvocationThreshold=2000", "-XX:Tier3MinInvocationThreshold=1000",
      "-XX:Tier3CompileThreshold=20000", "-XX:Tier3BackEdgeThreshold=600000",
      "-XX:+UseSerialGC", "-XX:-UsePerfData");

  private final List<Path> writable = new ArrayList<>();
  private final List<String> jvmOptions = new ArrayList<>();
  private String npt;

  /** Boots the machine with nested paging ({@code on}, the script's default) or shadow paging ({@code off}). */
  EmulatedMachine npt(String onOrOff) {
    this.npt = onOrOff;
    return this;
  }

  /** Adds {@code -Dkey=value} to the inner JVM's options. */
  EmulatedMachine systemProperty(String key, String value) {
    jvmOptions.add("-D" + key + "=" + value);
    return this;
  }

  /** The first half of the one line on stderr: why this machine's KVM is not used. */
  static String whyNotKvm(String detail) {
    return Files.exists(Path.of("/dev/kvm")) ? "/dev/kvm is not usable here (" + detail + ")"
        : "/dev/kvm is missing here";
  }

  /** Shares host directory {@code dir} writably with the machine, at its real path, which is returned. */
  Path shareWritable(Path dir) throws IOException {
    Path real = dir.toRealPath();
    writable.add(real);
    return real;
  }

  /**
   * Why the machine cannot start here, as one line that names the package to install, or null
   * when it can. Checked by the script itself (its {@code --check}): QEMU, the kernel image and
   * its modules, a static busybox.
   */
  static String whyUnavailable() {
    Path script;
    try {
      script = extractScript();
    } catch (IOException e) {
      return e.getMessage();
    }
    try {
      Process check = new ProcessBuilder("bash", script.toString(), "--check")
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
          .redirectOutput(ProcessBuilder.Redirect.DISCARD)
          .redirectErrorStream(false)
          .start();
      String err = new String(check.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      int status = check.waitFor();
      if (status == 0) {
        return null;
      }
      String line = err.lines().reduce((a, b) -> b).orElse("svm-machine --check failed with status " + status);
      return line.startsWith(SCRIPT + ": ") ? line.substring(SCRIPT.length() + 2) : line;
    } catch (IOException e) {
      return "cannot run bash: " + e.getMessage() + " (apt-get install bash)";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    } finally {
      deleteQuietly(script);
    }
  }

  /**
   * Runs {@code vkernel ARGS} in the machine with the caller's stdio and returns its exit status:
   * the inner vkernel's, or the script's 124 (its own time limit, unused here), 125 (the machine
   * failed, said in one line on stderr) or 141 (our stdout or stderr was closed).
   */
  int run(List<String> vkernelArgs, PrintWriter err) throws IOException, InterruptedException {
    Path script = extractScript();
    try {
      List<String> command = new ArrayList<>();
      // A session of its own: a Ctrl-C in the terminal reaches only this JVM, which forwards it once.
      command.add("setsid");
      command.add("bash");
      command.add(script.toString());
      command.add("--timeout");
      command.add("0");
      if (npt != null) {
        command.add("--npt");
        command.add(npt);
      }
      for (Path dir : writable) {
        command.add("--rw");
        command.add(dir.toString());
      }
      command.add("--");
      command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      command.addAll(JVM_OPTIONS);
      command.addAll(jvmOptions);
      command.add("-cp");
      command.add(absoluteClassPath());
      command.add(VkernelCommand.class.getName());
      command.addAll(vkernelArgs);
      err.flush();
      Process machine = new ProcessBuilder(command).inheritIO().start();
      ForwardedSignals forwarded = ForwardedSignals.install(sig -> Host.kill((int) machine.pid(), sig));
      try {
        return machine.waitFor();
      } finally {
        forwarded.uninstall();
        if (machine.isAlive()) {
          // Interrupted: the script takes QEMU with it.
          machine.destroy();
        }
      }
    } finally {
      deleteQuietly(script);
    }
  }

  /** This JVM's class path with every entry absolute: the machine starts in the same directory, but be sure. */
  private static String absoluteClassPath() {
    List<String> entries = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (!entry.isEmpty()) {
        entries.add(Path.of(entry).toAbsolutePath().toString());
      }
    }
    return String.join(File.pathSeparator, entries);
  }

  /** The bundled script, copied to a temporary file (run with bash, so no execute bit is needed). */
  private static Path extractScript() throws IOException {
    try (InputStream in = EmulatedMachine.class.getResourceAsStream(SCRIPT)) {
      if (in == null) {
        throw new IOException("this build of the vkernel lacks its " + SCRIPT + " script");
      }
      Path file = Files.createTempFile("vkernel-" + SCRIPT + "-", ".sh");
      try {
        Files.write(file, in.readAllBytes());
      } catch (IOException e) {
        deleteQuietly(file);
        throw e;
      }
      return file;
    }
  }

  /** Deletes a file of ours; one that cannot be deleted stays in the temporary directory. */
  static void deleteQuietly(Path file) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      // nothing more to do: it is a temporary file
    }
  }
}
