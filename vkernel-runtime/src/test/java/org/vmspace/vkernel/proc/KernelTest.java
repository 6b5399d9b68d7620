package org.vmspace.vkernel.proc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmspace.api.VmspaceService;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;
import org.vmspace.vkernel.syscall.Syscalls;
import org.vmspace.vkernel.testing.Kvm;

/** The kernel in-process, on busybox: running, exec failures, the image cache, signals, teardown. */
@Tag("kvm")
class KernelTest {
  static final String BUSYBOX = "/bin/busybox";
  static final List<String> ENV = List.of("PATH=/bin:/usr/bin", "LC_ALL=C");
  @TempDir Path dir;
  VmspaceService vms;
  Kernel kernel;
  Path out;

  @BeforeEach
  void setUp() {
    vms = Kvm.open();
    Kvm.require(BUSYBOX, "busybox-static");
    // No private /tmp: the test's files (under the host's /tmp) must be visible to the guests.
    kernel = new Kernel(vms, KernelConfig.builder().root(Path.of("/"), false).build(), Syscalls::new);
    out = dir.resolve("out.txt");
  }

  @AfterEach
  void tearDown() {
    // After a failed setUp, what it did not make is not there to close.
    if (kernel != null) {
      kernel.close();
    }
    if (vms != null) {
      vms.close();
    }
  }

  /** Runs with stdout and stderr to {@code out}, stdin from /dev/null. */
  private Kernel.Exit run(Duration limit, String... argv) throws Exception {
    int in = Host.openat2(Host.AT_FDCWD, "/dev/null".getBytes(StandardCharsets.US_ASCII), Host.O_RDONLY | Host.O_CLOEXEC, 0, 0);
    int o = Host.openat2(Host.AT_FDCWD, out.toString().getBytes(StandardCharsets.UTF_8),
        Host.O_WRONLY | Host.O_CREAT | Host.O_TRUNC | Host.O_CLOEXEC, 0644, 0);
    FileDescription stdout = new HostFileDescription(o, out.toString(), Host.O_WRONLY, false, true);
    FileDescription[] stdio = {new HostFileDescription(in, "/dev/null", Host.O_RDONLY), stdout, stdout.retain()};
    return kernel.run(argv[0], List.of(argv), ENV, "/", stdio, limit);
  }

  private String output() throws Exception {
    return Files.readString(out);
  }

  @Test
  void runsAProgramAndReturnsItsStatus() throws Exception {
    Kernel.Exit e = run(null, BUSYBOX, "sh", "-c", "echo hello; exit 5");
    assertThat(output()).isEqualTo("hello\n");
    assertThat(e.code()).isEqualTo(5);
    assertThat(e.signal()).isZero();
    assertThat(e.shellStatus()).isEqualTo(5);
    assertThat(e.timedOut()).isFalse();
  }

  @Test
  void execFailuresComeBackWithTheirErrno() throws Exception {
    Path text = Files.writeString(dir.resolve("text"), "no interpreter line\n");
    Files.setPosixFilePermissions(text, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path plain = Files.writeString(dir.resolve("plain"), "#!/bin/busybox sh\n");
    Path chain = dir.resolve("chain0");
    Files.writeString(chain, "#!" + chain + "\n");
    Files.setPosixFilePermissions(chain, PosixFilePermissions.fromString("rwxr-xr-x"));
    assertErrno(LinuxErrno.ENOENT, "/no/such/program");
    assertErrno(LinuxErrno.ENOEXEC, text.toString());
    assertErrno(LinuxErrno.EACCES, plain.toString());
    assertErrno(LinuxErrno.EACCES, "/etc");
    assertErrno(LinuxErrno.ELOOP, chain.toString());
    // A dynamically linked program whose PT_INTERP is missing (the classic "No such file or
    // directory" of an existing program), or is not an ELF image (ELIBBAD, as Linux).
    assertErrno(LinuxErrno.ENOENT, withInterpreter("/no/such/ld.so").toString());
    assertErrno(LinuxErrno.ELIBBAD, withInterpreter("/usr/bin/ldd").toString()); // a shell script
    assertErrno(LinuxErrno.EACCES, withInterpreter("/etc/passwd").toString()); // not executable
    // The kernel is usable after a failed start.
    assertThat(run(null, BUSYBOX, "true").shellStatus()).isZero();
  }

  /**
   * A copy of Debian's dynamic /bin/true whose PT_INTERP names {@code interp} instead of
   * /lib64/ld-linux-x86-64.so.2 (no longer than it: the rest of the field is NUL).
   */
  private Path withInterpreter(String interp) throws IOException {
    byte[] elf = Files.readAllBytes(Path.of("/bin/true"));
    byte[] old = "/lib64/ld-linux-x86-64.so.2".getBytes(StandardCharsets.US_ASCII);
    byte[] now = interp.getBytes(StandardCharsets.US_ASCII);
    int at = indexOf(elf, old);
    assertThat(at).as("/bin/true names %s", new String(old, StandardCharsets.US_ASCII)).isPositive();
    assertThat(now.length).isLessThanOrEqualTo(old.length);
    java.util.Arrays.fill(elf, at, at + old.length, (byte) 0);
    System.arraycopy(now, 0, elf, at, now.length);
    Path copy = Files.write(dir.resolve("true-interp-" + Integer.toHexString(interp.hashCode())), elf);
    Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rwxr-xr-x"));
    return copy;
  }

  private static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  @Test
  void aDynamicallyLinkedProgramRunsWithItsInterpreter() throws Exception {
    Kernel.Exit e = run(null, "/usr/bin/env", "/bin/busybox", "echo", "from env");
    assertThat(output()).isEqualTo("from env\n");
    assertThat(e.code()).isZero();
    // Each file once in the file cache: env, ld.so, /etc/ld.so.cache and libc.so.6 (ld.so maps
    // both privately), and busybox.
    assertThat(kernel.fileCacheSize()).isEqualTo(5);
  }

  private void assertErrno(int errno, String program) {
    assertThatThrownBy(() -> run(null, program)).isInstanceOfSatisfying(SyscallError.class,
        e -> assertThat(e.errno()).as(program).isEqualTo(errno));
  }

  @Test
  void aScriptRunsThroughItsInterpreter() throws Exception {
    Path script = Files.writeString(dir.resolve("script"), "#!/bin/busybox sh\necho \"args: $*\"\nexit 4\n");
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    Kernel.Exit e = run(null, script.toString(), "a", "b");
    assertThat(output()).isEqualTo("args: a b\n");
    assertThat(e.code()).isEqualTo(4);
  }

  @Test
  void repeatedExecsOfOneBinaryShareOneCachedImage() throws Exception {
    Kernel.Exit e = run(null, BUSYBOX, "sh", "-c", "i=0; while [ $i -lt 20 ]; do /bin/busybox true; i=$((i+1)); done; echo $i");
    assertThat(output()).isEqualTo("20\n");
    assertThat(e.code()).isZero();
    assertThat(kernel.fileCacheSize()).isEqualTo(1);
  }

  @Test
  void aSignalFromOutsideStopsAGuestBusyInUserCode() throws Exception {
    AtomicBoolean ended = new AtomicBoolean();
    // The signal goes once the shell says its trap is set (not after a guess at how long that takes).
    Thread sender = Thread.ofPlatform().start(() -> {
      try {
        // The file may not be there yet: run() creates it after this thread has started.
        while (!ended.get() && !(Files.exists(out) && Files.readString(out).startsWith("trapped\n"))) {
          Thread.sleep(5);
        }
      } catch (IOException | InterruptedException e) {
        return;
      }
      kernel.signalForeground(Signals.SIGINT);
    });
    Kernel.Exit e = run(null, BUSYBOX, "sh", "-c", "trap 'echo got INT; exit 3' INT; echo trapped; while :; do :; done");
    ended.set(true);
    sender.join();
    assertThat(e.timedOut()).isFalse();
    assertThat(output()).isEqualTo("trapped\ngot INT\n");
    assertThat(e.code()).isEqualTo(3);
  }

  @Test
  void aTimeoutKillsEveryProcess() throws Exception {
    // Without the timeout this would run for days: the test's own time limit would fail it.
    Kernel.Exit e = run(Duration.ofMillis(500), BUSYBOX, "sh", "-c", "sleep 100000 & sleep 100000");
    assertThat(e.timedOut()).isTrue();
    assertThat(e.signal()).isEqualTo(Signals.SIGKILL);
    assertThat(kernel.pids()).isEmpty();
  }

  @Test
  void aKillOfEveryProcessEndsTheRunReleasesTheirMemoryAndTheNextRunStillForks() throws Exception {
    AtomicBoolean ended = new AtomicBoolean();
    // The kill comes from outside (a second Ctrl-C) once every process is in place.
    Thread killer = Thread.ofPlatform().start(() -> {
      try {
        while (!ended.get() && !(Files.exists(out) && Files.readString(out).startsWith("started\n"))) {
          Thread.sleep(5);
        }
      } catch (IOException | InterruptedException e) {
        return;
      }
      kernel.killAll();
    });
    Kernel.Exit e = run(Duration.ofHours(1), BUSYBOX, "sh", "-c", "sleep 100000 & sleep 100000 & echo started; wait");
    ended.set(true);
    killer.join();
    assertThat(e.timedOut()).isFalse();
    assertThat(e.signal()).as("output: %s", output()).isEqualTo(Signals.SIGKILL);
    assertThat(kernel.pids()).isEmpty();
    assertThat(kernel.memory().committed()).as("every address space released").isZero();
    // No longer ending: the next program runs, and forks.
    Kernel.Exit next = run(Duration.ofMinutes(1), BUSYBOX, "sh", "-c", "/bin/busybox true && echo forked");
    assertThat(output()).isEqualTo("forked\n");
    assertThat(next.code()).isZero();
  }

  @Test
  void processesLeftBehindAreKilledWhenTheFirstExits() throws Exception {
    Kernel.Exit e = run(Duration.ofHours(1), BUSYBOX, "sh", "-c", "sleep 100000 & echo started");
    assertThat(output()).isEqualTo("started\n");
    assertThat(e.code()).isZero();
    assertThat(e.timedOut()).isFalse();
    assertThat(kernel.pids()).isEmpty();
  }

  @Test
  void aBackendThatCannotRunGuestsIsOneLineNotAStackTrace() throws Exception {
    // The service as on a host whose flavour is recognised but not implemented: every call
    // works except ctl(RUN), which fails with EOPNOTSUPP.
    VmspaceService noRun = (VmspaceService) java.lang.reflect.Proxy.newProxyInstance(
        VmspaceService.class.getClassLoader(), new Class<?>[] {VmspaceService.class}, (proxy, m, args) -> {
          if (m.getName().equals("run") || m.getName().equals("ctl")) {
            throw new org.vmspace.api.VmspaceException(org.vmspace.api.Errno.EOPNOTSUPP, "vmspace_ctl",
                (org.vmspace.api.VmspaceId) args[0], "no execution backend for this flavour");
          }
          try {
            return m.invoke(vms, args);
          } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
          }
        });
    java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
    java.io.PrintStream saved = System.err;
    kernel.close();
    kernel = new Kernel(noRun, KernelConfig.builder().root(Path.of("/"), false).build(), Syscalls::new);
    Kernel.Exit e;
    System.setErr(new java.io.PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      e = run(Duration.ofSeconds(30), BUSYBOX, "true");
    } finally {
      System.setErr(saved);
    }
    assertThat(e.signal()).isEqualTo(Signals.SIGKILL);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .startsWith("vkernel: cannot run guest code here: vmspace_ctl(")
        .contains("EOPNOTSUPP", "no execution backend for this flavour")
        .hasLineCount(1);
  }

  @Test
  void childrenAreReapedAndPidsAdvance() throws Exception {
    Kernel.Exit e = run(null, BUSYBOX, "sh", "-c", "for i in 1 2 3; do /bin/busybox true & done; wait; echo $$ $!");
    String[] pids = output().trim().split(" ");
    assertThat(Integer.parseInt(pids[1])).isGreaterThan(Integer.parseInt(pids[0]));
    assertThat(e.code()).isZero();
    assertThat(kernel.pids()).isEmpty();
  }

  @Test
  void aForkTheHostHasNoThreadForFailsWithEagainAndTheShellGoesOn() throws Exception {
    // One carrier thread, the first process's; then the host makes none, as at its thread limit.
    java.util.concurrent.ThreadFactory host = Thread.ofPlatform().daemon(true).factory();
    java.util.concurrent.atomic.AtomicInteger made = new java.util.concurrent.atomic.AtomicInteger();
    kernel.close();
    kernel = new Kernel(vms, KernelConfig.builder().root(Path.of("/"), false).build(), Syscalls::new,
        r -> made.getAndIncrement() < 1 ? host.newThread(r) : null);
    Kernel.Exit e = run(Duration.ofMinutes(1), BUSYBOX, "sh", "-c", "echo before; /bin/busybox true; echo not reached");
    // Not an internal error that kills the shell: fork says EAGAIN, which ash reports and exits on.
    assertThat(e.signal()).as("output: %s", output()).isZero();
    assertThat(output()).startsWith("before\n").contains("can't fork").doesNotContain("not reached");
    assertThat(e.code()).isNotZero();
    assertThat(kernel.pids()).isEmpty();
  }
}
