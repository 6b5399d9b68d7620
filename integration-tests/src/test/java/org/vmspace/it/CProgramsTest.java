package org.vmspace.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
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
 * inet_sockets TCP and UDP over 127.0.0.1 and ::1 under the default --net=loopback (a forked
 * client and server, accept4, non-blocking connect, options, sendmmsg/recvmmsg, EINTR);
 * fd_passing SCM_RIGHTS between a parent and a child over stream, datagram and seqpacket pairs
 * (a file, a pipe end, a socket; MSG_CTRUNC, MSG_CMSG_CLOEXEC, MSG_PEEK, the errors, lifetimes
 * in flight), signalfd (blocked SIGUSR1 and SIGCHLD from a child, poll, select, epoll, the
 * record's fields, EAGAIN, blocking and interrupted reads) and SO_RCVTIMEO/SO_SNDTIMEO;
 * signalfd_threads a signalfd's poll, ppoll, select and pselect readiness per thread (a tgkill to
 * another thread leaves a waiting poll waiting, one to the polling thread or a kill to the
 * process ends it, in every thread);
 * limits setrlimit and prlimit64 enforced (RLIMIT_NOFILE, AS, DATA, NPROC, FSIZE, CPU);
 * threads POSIX threads (mutexes, condition variables, TLS, detached threads, cancellation,
 * robust and PI mutexes, semaphores, once, barriers, signals to the process and to one thread,
 * two spinning threads, execve from a thread, the main thread exiting first).
 *
 * <p>Every program runs natively and then in one {@code vkernel run} of a shell that runs them
 * one after another ({@link Guests#runBatch}): one JVM start for all instead of one each, which
 * under the emulated machine is most of the cost of a small program.
 */
@Tag("kvm")
class CProgramsTest {
  /** A program of src/test/c for one libc, its arguments and the status it must end with. */
  record Case(String name, String libc, List<String> args, int status) {
    List<String> command() {
      List<String> cmd = new ArrayList<>();
      cmd.add(out.resolve(name + "-" + libc).toString());
      cmd.addAll(args);
      return cmd;
    }

    @Override
    public String toString() {
      return name + " (" + libc + ")" + (args.isEmpty() ? "" : " " + args);
    }
  }

  /**
   * 64 threads pass a token around a ring with raw FUTEX_WAIT/FUTEX_WAKE: a lost wake-up hangs
   * the run (and the test fails on its time limit). {@code -Dvkernel.futexStress.rounds}: 10,000
   * rounds each with /dev/kvm (640,000 hand-offs), 100 in the emulated machine (6,400);
   * {@code -Dvkernel.futexStress.rounds=100000} runs 6.4 million.
   */
  static final long FUTEX_ROUNDS = Long.getLong("vkernel.futexStress.rounds", 100);
  /**
   * The programs compared with their native runs: all of them, or with {@code
   * -Dvkernel.cprograms=NAME,NAME} only those (to check one program without the whole table).
   */
  static final List<String> ONLY = System.getProperty("vkernel.cprograms", "").isBlank() ? List.of()
      : List.of(System.getProperty("vkernel.cprograms").split(","));
  static final List<Case> CASES = Stream.of("musl", "glibc").flatMap(libc -> Stream.of(
      new Case("hello", libc, List.of("one", "two words"), 7),
      new Case("malloc_stress", libc, List.of(), 0),
      new Case("touch_pages", libc, List.of(), 0),
      new Case("syscalls", libc, List.of(), 0),
      new Case("linux_details", libc, List.of(), 0),
      new Case("byte_names", libc, List.of(), 0),
      new Case("fifos_locks", libc, List.of(), 0),
      new Case("event_fds", libc, List.of(), 0),
      new Case("unix_sockets", libc, List.of(), 0),
      new Case("inet_sockets", libc, List.of(), 0),
      new Case("fd_passing", libc, List.of(), 0),
      new Case("signalfd_threads", libc, List.of(), 0),
      new Case("limits", libc, List.of(), 0),
      new Case("threads", libc, List.of(), 0),
      new Case("sysv_ipc", libc, List.of(), 0),
      new Case("threads", libc, List.of("main-exits"), 0),
      new Case("futex_stress", libc, List.of("64", Long.toString(FUTEX_ROUNDS)), 0)))
      .filter(c -> ONLY.isEmpty() || ONLY.contains(c.name())).toList();
  /** How long one program may run in the batch before it is killed. */
  static final Duration EACH = Duration.ofMinutes(5);
  static Path out;
  static Guests.Batch batch;

  /** Runs every case natively and then in one vkernel (see {@link Guests#runBatch}). */
  // The whole table runs here: every program of the table, natively and in one vkernel (about 10 minutes emulated).
  @BeforeAll
  @Timeout(value = 30, unit = TimeUnit.MINUTES)
  static void runAll() throws Exception {
    Guests.prepare();
    out = Path.of("target", "cbin").toAbsolutePath();
    for (Case c : CASES) {
      assertThat(out.resolve(c.name() + "-" + c.libc()))
          .as("%s: compiled by the build (src/test/c/build.sh): run it through Maven", c).isExecutable();
    }
    batch = Guests.Batch.run(CASES.stream().map(Case::command).toList(), EACH);
  }

  static List<Case> cases() {
    return CASES;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void sameOutputAndStatusAsNatively(Case c) {
    Guests.Result actual = batch.assertSameAsNative(c.command());
    // Both runs agreeing is not enough: both could fail alike.
    assertThat(actual.status()).as("status of %s", c).isEqualTo(c.status());
    assertThat(actual.stdout()).as("stdout of %s", c).isNotEmpty();
    if (c.name().equals("futex_stress")) {
      assertThat(actual.stdout()).isEqualTo("64 threads x " + FUTEX_ROUNDS + " rounds: " + 64 * FUTEX_ROUNDS + " hand-offs\n");
    }
    if (c.name().equals("hello")) {
      assertThat(actual.stdout()).isEqualTo("hello, world: 2 argument(s) [one] [two words]\n");
    }
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

  static Stream<String> libcs() {
    return Stream.of("musl", "glibc");
  }
}
