package org.vmspace.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code vkernel run}'s contract: PATH lookup, one clear line and 127/126 for programs it
 * cannot run, --timeout, --trace, --root and its confinement, the read-only default root with a
 * private /tmp, --cpus, --net=none, and the caps --pids and --memory stopping bombs.
 */
@Tag("kvm")
class CommandLineTest {
  @BeforeAll
  static void setUp() throws Exception {
    Guests.prepare();
  }

  @Test
  void aProgramIsFoundInPath() throws Exception {
    Guests.Result r = Guests.runVkernel(List.of("echo", "found", "in", "PATH"));
    assertThat(r.stdout()).isEqualTo("found in PATH\n");
    assertThat(r.status()).isZero();
  }

  @Test
  void aMissingProgramIs127WithOneLine() throws Exception {
    Guests.Result r = Guests.runVkernel(List.of("no-such-program-anywhere"));
    assertThat(r.status()).isEqualTo(127);
    assertThat(r.stderr()).isEqualTo("vkernel: no-such-program-anywhere: command not found\n");
    Guests.Result p = Guests.runVkernel(List.of("/no/such/file"));
    assertThat(p.status()).isEqualTo(127);
    assertThat(p.stderr()).isEqualTo("vkernel: /no/such/file: No such file or directory\n");
  }

  @Test
  void aNonExecutableFileIs126() throws Exception {
    Path f = Guests.WORK.resolve("not-executable");
    Files.writeString(f, "just text\n");
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
    Guests.Result r = Guests.runVkernel(List.of(f.toString()));
    assertThat(r.status()).isEqualTo(126);
    assertThat(r.stderr()).isEqualTo("vkernel: " + f + ": Permission denied\n");
  }

  @Test
  void aProgramWhoseInterpreterIsMissingIs127AndSaysWhich() throws Exception {
    // Debian's dynamic true with its PT_INTERP renamed (same length): the program exists, its
    // loader does not, which Linux reports as ENOENT and shells with status 127.
    byte[] elf = Files.readAllBytes(Path.of("/bin/true"));
    String interp = "/lib64/ld-linux-x86-64.so.2";
    String missing = "/no/such/directory/ld.so.22";
    String text = new String(elf, java.nio.charset.StandardCharsets.ISO_8859_1);
    int at = text.indexOf(interp);
    assertThat(at).as("/bin/true names %s", interp).isPositive();
    System.arraycopy(missing.getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, elf, at, interp.length());
    Path program = Files.write(Guests.WORK.resolve("true-without-loader"), elf);
    Files.setPosixFilePermissions(program, PosixFilePermissions.fromString("rwxr-xr-x"));
    Guests.Result r = Guests.runVkernel(List.of(program.toString()));
    assertThat(r.status()).as("%s", r).isEqualTo(127);
    assertThat(r.stderr()).startsWith("vkernel: " + program + ": No such file or directory (interpreter " + missing + " not found)")
        .doesNotContain("Exception").hasLineCount(1);
  }

  /** Two options in one run (each run costs tens of seconds emulated): --cpus and --net=none. */
  @Test
  void cpusSetsTheCpuCountEveryViewAgreesOnAndNetNoneMakesLoopbackUnreachable() throws Exception {
    // nproc counts sched_getaffinity's mask; glibc's get_nprocs reads /sys; /proc/cpuinfo.
    // --net=none: a connect to 127.0.0.1 is ENETUNREACH, as docs/vkernel.md says.
    Guests.Result r = Guests.runVkernel(List.of("--cpus=3", "--net=none"), List.of(Guests.BUSYBOX, "sh", "-c",
        "nproc; cat /sys/devices/system/cpu/online /sys/devices/system/cpu/possible; grep -c ^processor /proc/cpuinfo;"
            + " nc 127.0.0.1 9 </dev/null 2>&1; echo \"nc: $?\""),
        Guests.env(), null);
    assertThat(r.stdout()).as("%s", r).isEqualTo("3\n0-2\n0-2\n3\n"
        + "nc: can't connect to remote host (127.0.0.1): Network is unreachable\nnc: 1\n");
    assertThat(r.status()).isZero();
  }

  @Test
  void aTimeoutKillsEveryGuestAndIs124() throws Exception {
    // Without the timeout this would run for days: Guests.LIMIT would fail the test.
    Guests.Result r = Guests.runVkernel(List.of("--timeout=1s"),
        List.of(Guests.BUSYBOX, "sh", "-c", "sleep 100000 & sleep 100000"), Guests.env(), null);
    assertThat(r.status()).isEqualTo(124);
    assertThat(r.stderr()).contains("timed out after 1s");
  }

  @Test
  void theTraceHasOneLinePerSystemCallWithDecodedArguments() throws Exception {
    Path trace = Guests.WORK.resolve("cat.trace");
    Files.deleteIfExists(trace);
    Guests.Result r = Guests.runVkernel(List.of("--trace=" + trace), List.of(Guests.BUSYBOX, "cat", "/etc/hostname"),
        Guests.env(), null);
    assertThat(r.status()).isZero();
    List<String> lines = Files.readAllLines(trace);
    assertThat(lines).anyMatch(l -> l.matches("\\[pid \\d+\\] open(at)?\\((AT_FDCWD, )?\"/etc/hostname\", O_RDONLY.*\\) = 3 <\\d+\\.\\d{6}>"));
    assertThat(lines).anyMatch(l -> l.matches("\\[pid \\d+\\] exit_group\\(0\\) = \\?"));
    assertThat(lines).allMatch(l -> l.startsWith("[pid "));
  }

  @Test
  void theDefaultRootIsReadOnlyWithAPrivateTmp() throws Exception {
    Guests.Result r = Guests.runVkernel(List.of(Guests.BUSYBOX, "sh", "-c",
        "echo x > /etc/vk-should-fail; echo \"etc $?\"; echo y > /tmp/vk-private && cat /tmp/vk-private; ls /tmp | wc -l"));
    assertThat(r.stdout()).isEqualTo("etc 1\ny\n1\n");
    assertThat(r.stderr()).contains("Read-only file system");
    assertThat(Path.of("/etc/vk-should-fail")).doesNotExist();
    assertThat(Path.of("/tmp/vk-private")).doesNotExist();
  }

  @Test
  void aRootDirectoryConfinesEveryPath() throws Exception {
    Path root = Guests.WORK.resolve("jail");
    Path outside = Guests.WORK.resolve("outside-secret");
    Files.writeString(outside, "secret\n");
    Files.createDirectories(root.resolve("bin"));
    Files.createDirectories(root.resolve("etc"));
    Files.copy(Path.of(Guests.BUSYBOX), root.resolve("bin/busybox"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    Files.writeString(root.resolve("etc/hostname"), "inside\n");
    Files.deleteIfExists(root.resolve("abs-link"));
    Files.deleteIfExists(root.resolve("rel-link"));
    Files.createSymbolicLink(root.resolve("abs-link"), outside);
    Files.createSymbolicLink(root.resolve("rel-link"), Path.of("../../../../../../../" + outside));
    String script = String.join("; ",
        "cat /etc/hostname",
        "cat /../../../../" + outside + " 2>/dev/null || echo dotdot-blocked",
        "cat /abs-link 2>/dev/null || echo abs-blocked",
        "cat /rel-link 2>/dev/null || echo rel-blocked",
        "cat /proc/self/root" + outside + " 2>/dev/null || echo procroot-blocked",
        "cd /../..; pwd",
        "echo made > /made && cat /made");
    Guests.Result r = Guests.runVkernel(List.of("--root=" + root), List.of("/bin/busybox", "sh", "-c", script),
        Guests.env(), null);
    assertThat(r.stdout()).isEqualTo("inside\ndotdot-blocked\nabs-blocked\nrel-blocked\nprocroot-blocked\n/\nmade\n");
    assertThat(root.resolve("made")).hasContent("made");
  }

  @Test
  void procShowsTheGuestsOwnProcesses() throws Exception {
    Guests.Result r = Guests.runVkernel(List.of(Guests.BUSYBOX, "sh", "-c", String.join("; ",
        "readlink /proc/self/exe",
        "tr '\\0' ' ' < /proc/$$/cmdline | cut -c1-18; echo",
        "test $(cut -d' ' -f4 /proc/self/stat) = $$ && echo parent-is-the-shell",
        "grep -c ' / ' /proc/mounts",
        "grep -q '^processor' /proc/cpuinfo && echo cpuinfo",
        "head -1 /proc/meminfo | cut -d: -f1",
        "cut -d' ' -f2 /proc/self/stat",
        "readlink /proc/self/fd/1 | cut -c1-5",
        "ls /proc/self/fd | wc -l")));
    assertThat(r.stdout()).isEqualTo(String.join("\n",
        "/usr/bin/busybox", "/bin/busybox sh -c", "", "parent-is-the-shell", "1", "cpuinfo", "MemTotal", "(cut)", "pipe:", "4", ""));
  }

  /**
   * --pids and --memory hold: a fork bomb and a thread bomb get EAGAIN at the task cap (the first
   * process is one of the 20 tasks), a memory bomb that touches every page gets NULL from malloc
   * (ENOMEM from mmap) before the 48 MiB the guests may commit, and the vkernel exits cleanly
   * with the program's status within 150 s (emulated; Guests.run fails the test past it). One run
   * for all three.
   */
  @Test
  void forkThreadAndMemoryBombsStopAtTheCaps() throws Exception {
    Path bombs = Path.of("target", "cbin", "bombs-musl").toAbsolutePath();
    Guests.Result r = Guests.runVkernel(List.of("--pids=20", "--memory=48M"), List.of(bombs.toString()), Guests.env(),
        null, java.time.Duration.ofSeconds(150));
    assertThat(r.status()).as("%s", r).isZero();
    String[] lines = r.stdout().split("\n");
    assertThat(lines).hasSize(4);
    assertThat(lines[0]).isEqualTo("fork bomb: 19 children, then Resource temporarily unavailable");
    // Zombies count against --pids until reaped, as against Linux's pids cgroup.
    assertThat(lines[1]).isEqualTo("zombie bomb: 19 children, then Resource temporarily unavailable");
    assertThat(lines[2]).isEqualTo("thread bomb: 19 threads, then Resource temporarily unavailable");
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("memory bomb: (\\d+) MiB, then Out of memory")
        .matcher(lines[3]);
    assertThat(m.matches()).as(lines[3]).isTrue();
    // The 8 MiB main stack and the program's own pages are committed too.
    assertThat(Integer.parseInt(m.group(1))).isBetween(24, 47);
  }
}
