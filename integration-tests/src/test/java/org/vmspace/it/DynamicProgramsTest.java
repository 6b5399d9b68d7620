package org.vmspace.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Dynamically linked programs, unmodified, under {@code vkernel run}: ld.so loaded as the
 * program's PT_INTERP maps the shared libraries with mmap, and everything is compared with a
 * native run of the same command (stdout and status).
 *
 * <ul>
 *   <li>Debian's own userland in one bash script ({@code scripts/userland.sh}): ls, sort,
 *       find, grep, sed, mawk, tar with gzip, sha256sum, xargs, date, python3 (json, hashlib,
 *       re, subprocess, compileall), perl, sqlite3 (10,000 rows in a transaction) and git.
 *   <li>File-backed memory ({@code file_maps.c}) as a dynamic, a static glibc and a static musl
 *       program: MAP_SHARED between two processes, msync, MAP_PRIVATE copy-on-write,
 *       MADV_DONTNEED, mprotect and munmap of parts, MAP_FIXED over a reservation, SIGBUS past
 *       the end of a file and after a truncation, the auxiliary vector, /proc/self/maps.
 *   <li>A dynamic C program and a dynamic C++ program (iostream, exceptions, std::thread).
 *   <li>Debian's OpenJDK 17 (threaded, and using SIGSEGV for its own purposes): {@code -version}
 *       and a small program ({@code src/test/java17/Guest17.java}).
 * </ul>
 *
 * Each test is one vkernel run (one JVM start, the dominant cost under emulation) of a shell
 * running many programs; the lines they print say which step differs when one does.
 */
@Tag("kvm")
class DynamicProgramsTest {
  /** The userland script runs python3 three times and git five: more than Guests.LIMIT emulated. */
  private static final Duration USERLAND_LIMIT = Duration.ofMinutes(8);
  static final String JAVA17 = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java";
  static Path cbin;

  @BeforeAll
  static void setUp() throws Exception {
    Guests.prepare();
    for (String[] p : new String[][] {{"/bin/bash", "bash"}, {"/usr/bin/python3", "python3"},
        {"/usr/bin/perl", "perl"}, {"/usr/bin/sqlite3", "sqlite3"}, {"/usr/bin/git", "git"}, {"/usr/bin/mawk", "mawk"}}) {
      Guests.require(p[0], p[1]);
    }
    cbin = Path.of("target", "cbin").toAbsolutePath();
    for (String name : List.of("file_maps-dyn", "file_maps-glibc", "file_maps-musl", "hello-dyn", "cxx_features-dyn")) {
      assertThat(cbin.resolve(name)).as("%s: compiled by the build (src/test/c/build.sh)", name).isExecutable();
    }
  }

  @Test
  void debiansUserlandRunsAsNatively() throws Exception {
    Path script = Guests.WORK.resolve("userland.sh");
    try (var in = DynamicProgramsTest.class.getResourceAsStream("/scripts/userland.sh")) {
      Files.write(script, in.readAllBytes());
    }
    Guests.Result r = Guests.assertSameAsNative(List.of("/bin/bash", script.toString()), null, USERLAND_LIMIT);
    assertThat(r.stdout()).contains("-- ls -l /etc: status 0", "-- tar tzf: status 0", "tree/sub/b",
        "-- python3 -c: status 0", "m.cpython-", "-- perl -e: status 0", "apple=1,fig=2,pear=3",
        "5000|25005000|row 9998", "-- sqlite3: status 0", "second\n", "-- git: status 0", "-- cleanup: status 0");
    assertThat(r.stdout()).doesNotContain("status 1", "status 2", "status 12");
  }

  @Test
  void fileMappingsBehaveAsNatively() throws Exception {
    String run = "for v in dyn glibc musl; do echo \"== $v\"; " + cbin + "/file_maps-$v /tmp; echo \"exit $?\"; done";
    Guests.Result r = Guests.assertSameAsNative(List.of("/bin/bash", "-c", run));
    assertThat(r.stdout()).doesNotContain("FAIL").contains("0 failures\nexit 0\n== glibc", "0 failures\nexit 0\n== musl")
        .endsWith("0 failures\nexit 0\n");
  }

  @Test
  void theTraceNamesMappedFilesAndMapsShowsTheFixedLayout() throws Exception {
    Path trace = Guests.WORK.resolve("dynamic-cat.trace");
    Files.deleteIfExists(trace);
    Guests.Result r = Guests.runVkernel(List.of("--trace=" + trace), List.of("/bin/cat", "/proc/self/maps"), Guests.env(), null);
    assertThat(r.status()).as("%s", r).isZero();
    String t = Files.readString(trace);
    // ld.so's mmap of libc with the descriptor's file, as strace -y prints it.
    assertThat(t).containsPattern("mmap\\(NULL, \\d+, PROT_READ, MAP_PRIVATE, \\d+<[^>]*/libc\\.so\\.6>, NULL\\)");
    // The program (PIE) at 0x555555554000, its interpreter at the first free range from 0x7f0000000000.
    assertThat(r.stdout()).containsPattern("(?m)^555555554000-[0-9a-f]+ r--p 00000000 [0-9a-f]{2}:[0-9a-f]{2} [1-9]\\d* +/usr/bin/cat$")
        .containsPattern("(?m)^7f0000000000-[0-9a-f]+ r--p 00000000 [0-9a-f]{2}:[0-9a-f]{2} [1-9]\\d* +/usr/lib/x86_64-linux-gnu/ld-linux-x86-64\\.so\\.2$")
        .containsPattern("(?m)^[0-9a-f]+-[0-9a-f]+ r-xp [0-9a-f]{8} [0-9a-f]{2}:[0-9a-f]{2} [1-9]\\d* +/usr/lib/x86_64-linux-gnu/libc\\.so\\.6$")
        .containsPattern("(?m)^[0-9a-f]+-[0-9a-f]+ rw-p 00000000 00:00 0 +\\[stack\\]$");
  }

  @Test
  void openJdk17RunsAsNatively() throws Exception {
    String java = Guests.require(JAVA17, "openjdk-17-jre-headless");
    Path classes = Path.of("target", "java17").toAbsolutePath();
    assertThat(classes.resolve("Guest17.class")).as("compiled by the build (src/test/java17/build.sh)").isRegularFile();
    String run = java + " -version 2>&1; echo \"exit $?\"; " + java + " -cp " + classes + " Guest17; echo \"exit $?\"";
    Guests.Result r = Guests.assertSameAsNative(List.of("/bin/bash", "-c", run), null, USERLAND_LIMIT);
    assertThat(r.stdout()).contains("openjdk version \"17", "hello from java 17", "allocated 125 MiB, kept 200",
        "4 threads: 4999999", "passwd lines > 0: true", "caught NPE").endsWith("exit 0\n");
  }

  @Test
  void dynamicCAndCxxProgramsRunAsNatively() throws Exception {
    String run = cbin + "/hello-dyn one 'two words'; echo \"exit $?\"; " + cbin + "/cxx_features-dyn 8; echo \"exit $?\"";
    Guests.Result r = Guests.assertSameAsNative(List.of("/bin/bash", "-c", run));
    assertThat(r.stdout()).contains("exit 7", "caught: bottom reached", "8 threads, total 139989 (right)").endsWith("exit 0\n");
  }
}
