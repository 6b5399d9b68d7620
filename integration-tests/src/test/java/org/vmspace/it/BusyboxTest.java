package org.vmspace.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * busybox (Debian's busybox-static: glibc, static, re-executing itself through /proc/self/exe)
 * runs its applets in the vkernel with the same output and status as natively. The applets run
 * one after another under one shell in one {@code vkernel run} ({@link Guests#runBatch}); the
 * tests of the command line's own stdio start a vkernel each.
 */
@Tag("kvm")
class BusyboxTest {
  static Path data;

  // The whole table runs here: the 17 applets natively and in one vkernel (about 4 minutes emulated).
  @BeforeAll
  @Timeout(value = 15, unit = TimeUnit.MINUTES)
  static void setUp() throws Exception {
    Guests.prepare();
    data = Guests.WORK.resolve("data");
    Files.createDirectories(data);
    byte[] mib = new byte[1 << 20];
    new Random(20261123L).nextBytes(mib);
    Files.write(data.resolve("random-1m.bin"), mib);
    StringBuilder lines = new StringBuilder();
    Random r = new Random(7);
    for (int i = 0; i < 2000; i++) {
      lines.append("line ").append(r.nextInt(100000)).append(i % 7 == 0 ? " seven" : "").append('\n');
    }
    Files.writeString(data.resolve("lines.txt"), lines);
    // Natively, then all in one vkernel run (Guests.runBatch): one JVM start instead of 17.
    batch = Guests.Batch.run(APPLETS.stream().map(Applet::command).toList(), Guests.LIMIT);
  }

  /** An applet's command line and the status it must end with. */
  record Applet(int status, List<String> command) {
    @Override
    public String toString() {
      return command.subList(1, command.size()).toString();
    }
  }

  static final List<Applet> APPLETS = applets().toList();
  static Guests.Batch batch;

  static Stream<Applet> applets() {
    String bb = Guests.BUSYBOX;
    return Stream.of(
        new Applet(0, List.of(bb, "echo", "hello", "from", "busybox")),
        new Applet(0, List.of(bb, "cat", "/etc/os-release")),
        new Applet(0, List.of(bb, "ls", "-l", "/etc")),
        new Applet(0, List.of(bb, "sha256sum", "data/random-1m.bin")),
        new Applet(0, List.of(bb, "sort", "-n", "-k2", "data/lines.txt")),
        new Applet(0, List.of(bb, "find", "/etc", "-name", "*.conf")),
        new Applet(0, List.of(bb, "awk", "-F:", "{ n++; s = s $1 \",\" } END { print n, s }", "/etc/passwd")),
        new Applet(0, List.of(bb, "sed", "-e", "s/line/LINE/", "-e", "/seven/d", "data/lines.txt")),
        new Applet(0, List.of(bb, "grep", "-c", "seven", "data/lines.txt")),
        new Applet(0, List.of(bb, "sh", "-c", "t=/tmp/vk-tar-$$.tar; tar cf $t data && tar tf $t; s=$?; rm -f $t; exit $s")),
        new Applet(0, List.of(bb, "sh", "-c", "echo a | wc -c")),
        new Applet(0, List.of(bb, "sh", "-c", "gzip -c < data/random-1m.bin | gunzip -c | md5sum")),
        new Applet(0, List.of(bb, "sh", "-c", "yes | head -n 3")), // yes dies of SIGPIPE
        // One read of /dev/zero or /dev/urandom fills the whole buffer (dd counts no short records).
        new Applet(0, List.of(bb, "sh", "-c",
            "dd if=/dev/zero bs=1M count=1 2>&1 >/dev/null; dd if=/dev/urandom bs=300000 count=1 2>/dev/null | wc -c")),
        new Applet(0, List.of(bb, "sh", "-c",
            "taskset 0x1 sh -c 'taskset -p $$' | sed 's/.* //'; taskset -p 0x1 99999; echo $?")),
        new Applet(42, List.of(bb, "sh", "-c", "exit 42")),
        new Applet(1, List.of(bb, "false")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("applets")
  void sameOutputAndStatusAsNatively(Applet applet) {
    int status = applet.status();
    List<String> command = applet.command();
    Guests.Result r = batch.assertSameAsNative(command);
    // Both runs agreeing is not enough: both could fail alike.
    assertThat(r.status()).as("status of %s", command).isEqualTo(status);
    if (status == 0) {
      assertThat(r.stdout()).as("stdout of %s", command).isNotEmpty();
    }
  }

  @Test
  void fifosAreMadeButDeviceNodesAreNot() throws Exception {
    // Natively the tests may run as root, who may make devices: the vkernel never lets a guest.
    Guests.Result r = Guests.runVkernel(List.of(Guests.BUSYBOX, "sh", "-c",
        "mknod /tmp/vk-dev c 1 3; echo mknod=$?; mkfifo /tmp/vk-fifo && test -p /tmp/vk-fifo && echo fifo;"
            + " (echo through > /tmp/vk-fifo &); cat /tmp/vk-fifo; rm /tmp/vk-fifo"));
    assertThat(r.stdout()).as("%s", r).isEqualTo("mknod=1\nfifo\nthrough\n");
    assertThat(r.stderr()).contains("Operation not permitted");
    assertThat(r.status()).isZero();
  }

  @Test
  void stdinComesFromTheCaller() throws Exception {
    // stdin passes through: the caller's file is the guest's descriptor 0.
    Guests.Result r = Guests.assertSameAsNative(List.of(Guests.BUSYBOX, "md5sum"), data.resolve("lines.txt"));
    assertThat(r.stdout()).hasSize(36);
  }
}
