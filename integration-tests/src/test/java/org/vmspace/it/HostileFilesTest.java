package org.vmspace.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.vmspace.vkernel.cli.VkernelCommand;

/**
 * {@code vkernel run} on the nastiest inputs of the exec fuzzer (issue 16, hostile files): a
 * zero-length file, a truncated ELF, a loop of {@code #!} scripts, an ELF whose interpreter is a
 * script, a CRLF script and {@code #!} alone (a chain one script too long, a line too long and
 * the rest are {@code ExecRegressionTest}'s, on the host). Each is status 126 (found, cannot be
 * executed) or 127 (not found: the CRLF script's interpreter {@code "...\r"} and the empty name
 * of a bare {@code #!}),
 * as Linux shells give, with one line on stderr and never a Java stack trace. One of them runs
 * as a real {@code vkernel run} (a JVM of its own, the launcher's whole path); the others run the
 * same command in this JVM ({@link VkernelCommand#execute}), since starting a JVM per file under
 * emulation costs tens of seconds and an exec failure happens before any guest code runs.
 */
@Tag("kvm")
class HostileFilesTest {
  static Path dir;

  @BeforeAll
  static void setUp() throws Exception {
    Guests.prepare();
    dir = Files.createDirectories(Guests.WORK.resolve("hostile"));
  }

  private static Path file(String name, byte[] content) throws IOException {
    Path p = dir.resolve(name);
    Files.write(p, content);
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    return p;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  /** One expected outcome: the file, the status and the stderr line's reason. */
  record Case(Path file, int status, String reason) {}

  @Test
  void hostileFilesAre126Or127WithOneCleanLine() throws Exception {
    Path trueElf = Path.of("/bin/true");
    List<Case> cases = new ArrayList<>();
    cases.add(new Case(file("zero-length", new byte[0]), 126, "cannot execute (too short for ELF)"));
    cases.add(new Case(file("truncated-elf", java.util.Arrays.copyOf(Files.readAllBytes(trueElf), 100)), 126,
        "cannot execute (bad program headers)"));
    Path loopA = dir.resolve("loop-a");
    Path loopB = dir.resolve("loop-b");
    file("loop-b", bytes("#!" + loopA + "\n"));
    cases.add(new Case(file("loop-a", bytes("#!" + loopB + "\n")), 126, "Too many levels of symbolic links"));
    Path script = file("interp-script", bytes("#!/bin/true\n"));
    byte[] elf = Files.readAllBytes(trueElf);
    String interp = "/lib64/ld-linux-x86-64.so.2";
    int at = new String(elf, StandardCharsets.ISO_8859_1).indexOf(interp);
    assertThat(at).as("/bin/true names %s", interp).isPositive();
    // The script at a path as long as the interpreter's, so that it replaces it in place.
    String viaLink = "/tmp/hf-" + "x".repeat(interp.length() - "/tmp/hf-".length());
    Files.copy(script, Path.of(viaLink), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    Files.setPosixFilePermissions(Path.of(viaLink), PosixFilePermissions.fromString("rwxr-xr-x"));
    System.arraycopy(bytes(viaLink), 0, elf, at, interp.length());
    cases.add(new Case(file("interp-is-a-script", elf), 126,
        "cannot execute: its ELF interpreter is not an x86-64 ELF image"));
    cases.add(new Case(file("crlf", bytes("#!/bin/sh\r\necho hi\r\n")), 127, "No such file or directory"));
    cases.add(new Case(file("bare-hash-bang", bytes("#!")), 127, "No such file or directory"));

    // The loop through a real vkernel run: its own JVM, the launcher's path from start to end.
    Case first = cases.get(2);
    long start = System.nanoTime();
    Guests.Result r = Guests.runVkernel(List.of(first.file().toString()));
    assertThat(r.status()).as("%s", r).isEqualTo(first.status());
    assertThat(r.stderr()).as("%s", r).isEqualTo("vkernel: " + first.file() + ": " + first.reason() + "\n");
    assertThat(r.stdout()).isEmpty();
    System.out.printf("HostileFilesTest: vkernel run %d ms%n", (System.nanoTime() - start) / 1_000_000);
    // The others through the same command in this JVM.
    List<Case> inProcess = new ArrayList<>(cases);
    inProcess.remove(first);
    long t0 = System.nanoTime();
    for (Case c : inProcess) {
      StringWriter out = new StringWriter();
      StringWriter err = new StringWriter();
      int status = VkernelCommand.execute(new String[] {"run", "--accel=kvm", "--", c.file().toString()},
          new PrintWriter(out, true), new PrintWriter(err, true));
      String line = "vkernel: " + c.file() + ": " + c.reason();
      assertThat(status).as("%s: %s", c.file(), err).isEqualTo(c.status());
      assertThat(err.toString()).as("%s", c.file()).startsWith(line).hasLineCount(1)
          .doesNotContain("Exception").doesNotContain("\tat ");
      assertThat(out.toString()).isEmpty();
    }
    System.out.printf("HostileFilesTest: %d in-process runs %d ms%n", inProcess.size(), (System.nanoTime() - t0) / 1_000_000);
  }
}
