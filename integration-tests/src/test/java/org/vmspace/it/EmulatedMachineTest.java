package org.vmspace.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code vkernel run --accel=emulated}: the fallback for machines without a usable /dev/kvm, run
 * from the build's own JVM (this class is not tagged "kvm": the emulated machine needs no KVM,
 * only QEMU, so it is tested where the build runs, with KVM or without). One boot carries stdin,
 * stdout, stderr, the environment, the exit status, a writable --root and a --trace file that
 * must appear here.
 */
class EmulatedMachineTest {
  @Test
  void theCommandRunsInTheMachineWithStdioRootTraceAndStatus() throws Exception {
    Guests.require(Guests.BUSYBOX, "busybox-static");
    Files.createDirectories(Guests.WORK);
    Path root = Files.createTempDirectory(Guests.WORK, "emulated-root-");
    Files.createDirectories(root.resolve("bin"));
    Files.copy(Path.of(Guests.BUSYBOX), root.resolve("bin/busybox"));
    Path stdin = Files.writeString(Guests.WORK.resolve("emulated-stdin.txt"), "line one\nline two\n");
    Path trace = Guests.WORK.resolve("emulated.trace");
    Files.deleteIfExists(trace);
    Guests.Result r = vkernel(List.of("run", "--accel=emulated", "--root=" + root, "--trace=" + trace, "--clear-env",
        "--env=GREETING=hello, machine", "--", "/bin/busybox", "sh", "-c",
        "wc -l; echo \"$GREETING ${HOME-(no HOME)}\"; echo made > /made; echo to-stderr >&2; exit 7"), null, stdin);
    assertThat(r.status()).as("%s", r).isEqualTo(7);
    // Only the environment asked for, although the machine's own JVM has HOME and PATH.
    assertThat(r.stdout()).isEqualTo("2\nhello, machine (no HOME)\n");
    assertThat(r.stderr()).startsWith("vkernel: --accel=emulated asks for it; running in an emulated SVM machine")
        .contains("to-stderr\n");
    assertThat(root.resolve("made")).hasContent("made");
    assertThat(Files.readString(trace)).contains("] write(1, ").contains("+++ exited with 7 +++");
  }

  @Test
  void withoutQemuItIsOneLineNamingThePackageAndStatus125() throws Exception {
    // A PATH with bash and nothing else: the machine's script runs, and finds no QEMU.
    Path bin = Files.createDirectories(Guests.WORK.resolve("path-without-qemu"));
    Path bash = bin.resolve("bash");
    if (!Files.exists(bash, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      Files.createSymbolicLink(bash, Path.of("/bin/bash"));
    }
    Guests.Result r = vkernel(List.of("run", "--accel=emulated", "/bin/busybox", "true"), bin.toString(), null);
    assertThat(r.status()).as("%s", r).isEqualTo(125);
    assertThat(r.stderr()).hasLineCount(1)
        .contains("the emulated machine cannot start")
        .contains("apt-get install qemu-system-x86");
  }

  /** The vkernel command line with this test's class path, PATH replaced if given. */
  private static Guests.Result vkernel(List<String> args, String path, Path stdin) throws Exception {
    List<String> cmd = new ArrayList<>(Guests.javaCommand());
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(Guests.WORK.toFile());
    if (path != null) {
      pb.environment().put("PATH", path);
    }
    return Guests.run(pb, stdin);
  }
}
