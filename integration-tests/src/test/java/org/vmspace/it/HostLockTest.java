package org.vmspace.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A guest's advisory locks on a host file and a host process's exclude each other, both kinds
 * (fcntl record locks and flock) and both ways: the guest (src/test/c/host_lock.c) sees the
 * host's locks with F_GETLK, F_SETLK and LOCK_NB, waits for them with F_SETLKW and a blocking
 * flock, and while it holds its own the host cannot take them. The host side is this test JVM
 * (a fcntl lock through {@link FileChannel}) and util-linux's {@code flock} command.
 */
@Tag("kvm")
class HostLockTest {
  @BeforeAll
  static void setUp() throws Exception {
    Guests.prepare();
  }

  @Test
  void guestAndHostLocksExcludeEachOther() throws Exception {
    Path bin = Path.of("target", "cbin", "host_lock-musl").toAbsolutePath();
    assertThat(bin).as("compiled by the build (src/test/c/build.sh)").isExecutable();
    // Not under target/: in the emulated machine that is a 9p share, where flock is turned into
    // a POSIX lock (and would conflict with this JVM's record lock); /tmp is a local filesystem.
    Path root = Files.createTempDirectory("vkernel-host-lock-");
    Files.copy(bin, root.resolve("host_lock"), StandardCopyOption.REPLACE_EXISTING);
    Path f = root.resolve("f");
    Files.write(f, new byte[100]);
    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      FileLock record = ch.lock(0, 10, false);
      Process flockHolder = new ProcessBuilder("flock", f.toString(), "-c", "echo held; while [ ! -e "
          + root.resolve("waiting") + " ]; do sleep 0.05; done; : > " + root.resolve("flock-released"))
          .redirectError(ProcessBuilder.Redirect.INHERIT).start();
      try (BufferedReader r = new BufferedReader(new InputStreamReader(flockHolder.getInputStream(), StandardCharsets.US_ASCII))) {
        assertThat(r.readLine()).isEqualTo("held");
      }
      CompletableFuture<Guests.Result> guest = CompletableFuture.supplyAsync(() -> {
        try {
          return Guests.runVkernel(List.of("--root=" + root), List.of("/host_lock", "/f", "/"), Map.of(), null);
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      awaitFile(root.resolve("waiting"), guest);
      Files.writeString(root.resolve("released"), "");
      record.release();
      assertThat(flockHolder.waitFor(Guests.LIMIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

      awaitFile(root.resolve("guest-holds"), guest);
      FileLock whileGuestHolds = ch.tryLock(0, 10, true);
      int flockWhileGuestHolds = flockNow(f);
      Files.writeString(root.resolve("checked"), "");
      Guests.Result r = guest.get(Guests.LIMIT.toSeconds(), TimeUnit.SECONDS);
      assertThat(r.stdout()).as(r.toString()).isEqualTo(String.join("\n",
          "getlk: F_WRLCK start 0 len 10 pid 0", // a holder outside the guest's pids, as Linux says
          "setlk: Resource temporarily unavailable",
          "flock -n: Resource temporarily unavailable",
          "setlkw: ok, after the host let go: yes",
          "flock: ok, after the host let go: yes",
          ""));
      assertThat(r.status()).isZero();
      assertThat(whileGuestHolds).as("a host fcntl lock while the guest holds the range").isNull();
      assertThat(flockWhileGuestHolds).as("host flock -n while the guest holds the flock").isEqualTo(1);
      FileLock afterExit = ch.tryLock(0, 10, false);
      assertThat(afterExit).as("a host fcntl lock after the guest exited").isNotNull();
      afterExit.release();
    }
    assertThat(flockNow(f)).as("host flock -n after the guest exited").isZero();
    try (var files = Files.list(root)) {
      for (Path p : files.toList()) {
        Files.delete(p);
      }
    }
    Files.delete(root);
  }

  /** Waits for the guest to create {@code marker}, failing if the guest ends first. */
  private static void awaitFile(Path marker, CompletableFuture<Guests.Result> guest) throws Exception {
    while (!Files.exists(marker)) {
      if (guest.isDone()) {
        throw new AssertionError("the guest ended before creating " + marker + ": " + guest.join());
      }
      Thread.sleep(20);
    }
  }

  /** util-linux {@code flock -n FILE true}: 0 if the lock was free, 1 if not. */
  private static int flockNow(Path f) throws Exception {
    Process p = new ProcessBuilder("flock", "-n", f.toString(), "true").redirectErrorStream(true).start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return p.exitValue();
  }
}
