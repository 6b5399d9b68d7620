package org.vmspace.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Third-party runtimes that start threads, each compared with its native run (output and
 * status). Go programs built at build time by Debian's golang-go with {@code CGO_ENABLED=0}
 * (src/test/go/build.sh): the Go runtime starts several threads with clone(CLONE_THREAD), gives
 * each a signal stack, parks them on futexes, waits for timers with epoll, and preempts a
 * goroutine that spins without calls by sending its thread SIGURG with tgkill. qemu-user
 * (Debian's qemu-user-static) starts its RCU thread and reserves its guest's address space.
 */
@Tag("kvm")
class ThreadedProgramsTest {
  static Path out;

  @BeforeAll
  static void findPrograms() throws Exception {
    Guests.prepare();
    out = Path.of("target", "gobin").toAbsolutePath();
    for (String name : List.of("hello", "goroutines")) {
      assertThat(out.resolve(name)).as("%s: built by src/test/go/build.sh: run it through Maven", name).isExecutable();
    }
  }

  @Test
  void helloRunsWithItsArgumentsAndStatus() throws Exception {
    Guests.Result r = Guests.assertSameAsNative(List.of(out.resolve("hello").toString(), "a", "b"));
    assertThat(r.status()).isEqualTo(3);
    assertThat(r.stdout()).isEqualTo("hello from go: 2 argument(s)\n");
  }

  @Test
  void qemuUserRunsBusyboxInsideTheVkernel() throws Exception {
    String qemu = Guests.require("/usr/bin/qemu-x86_64-static", "qemu-user-static");
    Guests.Result r = Guests.assertSameAsNative(List.of(qemu, Guests.BUSYBOX, "echo", "hi"));
    assertThat(r.status()).isZero();
    assertThat(r.stdout()).isEqualTo("hi\n");
  }

  @Test
  void goroutinesHashSleepUseFilesAndPreemptASpinner() throws Exception {
    Guests.Result r = Guests.assertSameAsNative(List.of(out.resolve("goroutines").toString()));
    assertThat(r.status()).isZero();
    assertThat(r.stdout()).contains("count 16", "gc ran: true", "slept at least 20ms: true",
        "read back \"written by go\\n\" err <nil>", "ticks: 5", "spinning goroutine stopped: true");
  }
}
