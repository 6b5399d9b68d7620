package org.vmspace.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * C programs compiled at build time (src/test/c/build.sh) with {@code musl-gcc -static} (musl:
 * legacy system call numbers, open/stat/fork/pipe) and {@code gcc -static} (glibc: the *at
 * family, clone3 and clone, rseq refused), run with the same output and status as natively.
 * linux_details checks what busybox's test suites found missing: errnos of changes to a mount's
 * root, /proc/PID/fd entries as links, /proc/PID/comm and status, PR_SET_CHILD_SUBREAPER;
 * byte_names that names which are not UTF-8 keep every byte through every path call;
 * fifos_locks FIFOs (blocking opens, interrupted by signals) and record, OFD and flock locks;
 * event_fds eventfd (semaphore mode, limits, reads woken by a thread, epoll woken by a child,
 * EINTR and SA_RESTART), timerfd (relative, absolute, interval, gettime) and epoll's level,
 * edge-triggered and one-shot reporting on them and on a pipe, and epoll_pwait's signal mask;
 * limits setrlimit and prlimit64 enforced (RLIMIT_NOFILE, AS, DATA, NPROC, FSIZE, CPU);
 * threads POSIX threads (mutexes, condition variables, TLS, detached threads, cancellation,
 * robust and PI mutexes, semaphores, once, barriers, signals to the process and to one thread,
 * two spinning threads, execve from a thread, the main thread exiting first).
 */
@Tag("kvm")
class CProgramsTest {
  static Path out;

  @BeforeAll
  static void findPrograms() throws Exception {
    Guests.prepare();
    out = Path.of("target", "cbin").toAbsolutePath();
    for (String name : List.of("hello", "malloc_stress", "touch_pages", "segv", "syscalls", "linux_details", "byte_names", "fifos_locks", "threads", "futex_stress", "sysv_ipc", "event_fds", "unix_sockets", "limits")) {
      for (String libc : List.of("musl", "glibc")) {
        Path bin = out.resolve(name + "-" + libc);
        assertThat(bin).as("%s: compiled by the build (src/test/c/build.sh): run it through Maven", bin).isExecutable();
      }
    }
  }

  /**
   * The programs compared with their native runs: all of them, or with {@code
   * -Dvkernel.cprograms=NAME,NAME} only those (to check one program without the whole list's
   * dozen emulated minutes).
   */
  static Stream<Arguments> programs() {
    String only = System.getProperty("vkernel.cprograms", "");
    List<String> chosen = only.isBlank() ? List.of() : List.of(only.split(","));
    return allPrograms().filter(a -> chosen.isEmpty() || chosen.contains((String) a.get()[0]));
  }

  private static Stream<Arguments> allPrograms() {
    return Stream.of("musl", "glibc").flatMap(libc -> Stream.of(
        Arguments.of("hello", libc, List.of("one", "two words"), 7),
        Arguments.of("malloc_stress", libc, List.of(), 0),
        Arguments.of("touch_pages", libc, List.of(), 0),
        Arguments.of("syscalls", libc, List.of(), 0),
        Arguments.of("linux_details", libc, List.of(), 0),
        Arguments.of("byte_names", libc, List.of(), 0),
        Arguments.of("fifos_locks", libc, List.of(), 0),
        Arguments.of("event_fds", libc, List.of(), 0),
        Arguments.of("unix_sockets", libc, List.of(), 0),
        Arguments.of("limits", libc, List.of(), 0),
        Arguments.of("threads", libc, List.of(), 0),
        Arguments.of("sysv_ipc", libc, List.of(), 0),
        Arguments.of("threads", libc, List.of("main-exits"), 0)));
  }

  @ParameterizedTest(name = "{0} ({1})")
  @MethodSource("programs")
  void sameOutputAndStatusAsNatively(String name, String libc, List<String> args, int status) throws Exception {
    List<String> cmd = new java.util.ArrayList<>();
    cmd.add(out.resolve(name + "-" + libc).toString());
    cmd.addAll(args);
    Guests.Result r = Guests.assertSameAsNative(cmd);
    // Both runs agreeing is not enough: both could fail alike.
    assertThat(r.status()).as("status of %s", cmd).isEqualTo(status);
    assertThat(r.stdout()).as("stdout of %s", cmd).isNotEmpty();
  }

  @Test
  void helloHasItsArgumentsAndStatus() throws Exception {
    Guests.Result r = Guests.runVkernel(List.of(out.resolve("hello-musl").toString(), "a", "b c"));
    assertThat(r.stdout()).isEqualTo("hello, world: 2 argument(s) [a] [b c]\n");
    assertThat(r.status()).isEqualTo(7);
  }

  @ParameterizedTest
  @MethodSource("libcs")
  void aSegfaultingGuestDiesWith139AndTheTraceShowsSigsegv(String libc) throws Exception {
    Path trace = Guests.WORK.resolve("segv-" + libc + ".trace");
    Files.deleteIfExists(trace);
    Guests.Result r = Guests.runVkernel(List.of("--trace=" + trace), List.of(out.resolve("segv-" + libc).toString()),
        Guests.env(), null);
    assertThat(r.status()).as("%s", r).isEqualTo(139);
    assertThat(r.stdout()).isEqualTo("about to fault\n");
    String text = Files.readString(trace);
    assertThat(text).contains("--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x0} ---");
    assertThat(text).contains("+++ killed by SIGSEGV +++");
    assertThat(Guests.runNative(List.of(out.resolve("segv-" + libc).toString()), Guests.env(), null).status())
        .isEqualTo(139);
  }

  /**
   * 64 threads pass a token around a ring with raw FUTEX_WAIT/FUTEX_WAKE: a lost wake-up hangs
   * the run (and the test fails on its time limit). {@code -Dvkernel.futexStress.rounds}: 10,000
   * rounds each with /dev/kvm (640,000 hand-offs), 100 in the emulated machine (6,400);
   * {@code -Dvkernel.futexStress.rounds=100000} runs 6.4 million.
   */
  @ParameterizedTest
  @MethodSource("libcs")
  void futexHandOffsAroundARingOf64Threads(String libc) throws Exception {
    long rounds = Long.getLong("vkernel.futexStress.rounds", 100);
    Guests.Result r = Guests.assertSameAsNative(List.of(out.resolve("futex_stress-" + libc).toString(), "64",
        Long.toString(rounds)));
    assertThat(r.status()).isZero();
    assertThat(r.stdout()).isEqualTo("64 threads x " + rounds + " rounds: " + 64 * rounds + " hand-offs\n");
  }

  static Stream<String> libcs() {
    return Stream.of("musl", "glibc");
  }
}
