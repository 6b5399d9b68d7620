package org.vmspace.vkernel.fuzz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmspace.vkernel.proc.ExecHarness;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The inputs that found bugs in execve (issue 16), each run through the real exec path with
 * Linux's outcome: {@code src/test/resources/fuzz/regressions/expected.txt} names each file and
 * its errno or the argv Linux builds for it (fs/binfmt_script.c, fs/binfmt_elf.c), and chains of
 * scripts check exec_binprm's depth limit (five scripts run, a sixth is ELOOP unless its
 * interpreter is missing or not executable, which load_script finds first).
 */
class ExecRegressionTest {
  @TempDir
  Path root;
  ExecFuzzer fuzzer;

  @BeforeEach
  void setUp() throws IOException {
    fuzzer = new ExecFuzzer(root, Path.of("target/fuzz-failures"));
  }

  @AfterEach
  void tearDown() {
    if (fuzzer != null) {
      fuzzer.close();
    }
  }

  @Test
  void everyRecordedInputEndsAsOnLinux() throws IOException {
    String expected = new String(ExecFuzzer.resource("/fuzz/regressions/expected.txt"), StandardCharsets.ISO_8859_1);
    int checked = 0;
    for (String line : expected.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int sp = line.indexOf(' ');
      String name = line.substring(0, sp);
      String outcome = line.substring(sp + 1);
      String path = "/r/" + name;
      fuzzer.write(path, ExecFuzzer.resource("/fuzz/regressions/" + name), true);
      if (outcome.matches("E[A-Z0-9]+")) {
        assertThatThrownBy(() -> fuzzer.execOne(path)).as(name)
            .isInstanceOfSatisfying(SyscallError.class, e -> assertThat(LinuxErrno.name(e.errno())).isEqualTo(outcome));
      } else {
        ExecHarness.Result res = fuzzer.execOne(path);
        List<String> want = new ArrayList<>(Arrays.asList(outcome.split("\\|")));
        want.replaceAll(a -> a.equals("$") ? path : a);
        assertThat(ExecFuzzer.args(res)).as(name).isEqualTo(want);
        assertThat(res.exePath()).as(name).isEqualTo("/fuzz/static.elf");
      }
      checked++;
    }
    assertThat(checked).isGreaterThanOrEqualTo(15);
  }

  /** A chain of {@code n} scripts, each naming the next, the last naming {@code target}. */
  private String chain(String name, int n, String target) throws IOException {
    for (int i = 0; i < n; i++) {
      String next = i + 1 < n ? "/r/" + name + "-" + (i + 1) : target;
      fuzzer.write("/r/" + name + "-" + i, ("#!" + next + "\n").getBytes(StandardCharsets.ISO_8859_1), true);
    }
    return "/r/" + name + "-0";
  }

  @Test
  void fiveScriptsRunAndASixthIsOneTooMany() throws IOException {
    ExecHarness.Result five = fuzzer.execOne(chain("five", 5, "/fuzz/static.elf"));
    assertThat(five.exePath()).isEqualTo("/fuzz/static.elf");
    assertThat(ExecFuzzer.args(five)).containsExactly("/fuzz/static.elf", "/r/five-4", "/r/five-3", "/r/five-2",
        "/r/five-1", "/r/five-0", "arg1");
    expectErrno(chain("six", 6, "/fuzz/static.elf"), LinuxErrno.ELOOP);
    // The sixth script's interpreter is opened (and found missing or not executable) first.
    expectErrno(chain("sixmissing", 6, "/missing"), LinuxErrno.ENOENT);
    expectErrno(chain("sixdir", 6, "/fuzz/dir"), LinuxErrno.EACCES);
    // A seventh is never opened.
    expectErrno(chain("sevenmissing", 7, "/missing"), LinuxErrno.ELOOP);
    expectErrno(chain("loop", 1, "/r/loop-0"), LinuxErrno.ELOOP);
  }

  @Test
  void interpreterLoopsEndAsOnLinux() throws IOException {
    // PT_INTERP naming the program itself: Linux loads it as its own interpreter (an ELF
    // interpreter's own PT_INTERP is not followed), so there is no loop to refuse.
    byte[] self = ExecFuzzer.resource("/fuzz/elf/dynamic-pie.elf");
    byte[] path = "/fuzz/ld.so".getBytes(StandardCharsets.ISO_8859_1);
    String me = "/r/selfintp"; // as long as "/fuzz/ld.so", so it replaces it in place
    int at = indexOf(self, path);
    System.arraycopy(me.getBytes(StandardCharsets.ISO_8859_1), 0, self, at, path.length);
    fuzzer.write(me, self, true);
    ExecHarness.Result res = fuzzer.execOne(me);
    assertThat(res.exePath()).isEqualTo(me);
    // PT_INTERP naming a script: the interpreter is not an ELF image, ELIBBAD.
    byte[] toScript = ExecFuzzer.resource("/fuzz/elf/dynamic-pie.elf");
    System.arraycopy("/r/script12".getBytes(StandardCharsets.ISO_8859_1), 0, toScript, at, path.length);
    fuzzer.write("/r/script12", "#!/fuzz/static.elf\n".getBytes(StandardCharsets.ISO_8859_1), true);
    fuzzer.write("/r/toscript", toScript, true);
    expectErrno("/r/toscript", LinuxErrno.ELIBBAD);
  }

  private static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return fail("not found");
  }

  private void expectErrno(String path, int errno) {
    assertThatThrownBy(() -> fuzzer.execOne(path)).as(path)
        .isInstanceOfSatisfying(SyscallError.class, e -> assertThat(LinuxErrno.name(e.errno())).isEqualTo(LinuxErrno.name(errno)));
  }
}
