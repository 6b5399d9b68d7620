package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmspace.kvm.testing.GuestFixture.at;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.vmspace.api.RunResult;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceId;
import org.vmspace.kvm.testing.GuestFixture;

/**
 * 10^4 create/run/destroy cycles leave the open file descriptors, threads and resident memory
 * bounded; so do whole services opened and closed.
 */
@Tag("kvm")
class ResourceCycleTest {
  @Test
  void tenThousandCreateRunDestroyCyclesLeaveNothingBehind() throws Exception {
    try (GuestFixture g = new GuestFixture()) {
      cycle(g, 200); // warm up: vCPU, JIT, allocator
      long fds = openFds();
      long threads = threads();
      long rss = rssKb();
      cycle(g, 10_000);
      System.gc();
      assertThat(openFds()).as("open fds").isLessThanOrEqualTo(fds + 2);
      assertThat(threads()).as("threads").isLessThanOrEqualTo(threads + 2);
      assertThat(rssKb() - rss).as("RSS growth in KiB").isLessThan(64 * 1024);
    }
  }

  private static void cycle(GuestFixture g, int n) {
    VextFrame x = new VextFrame();
    for (int i = 0; i < n; i++) {
      VmspaceId id = g.space(1 + (i % 3));
      TrapFrame f = at("one_syscall");
      assertThat(g.run(id, f, x)).isEqualTo(RunResult.SYSCALL);
      g.vms.destroy(id);
    }
  }

  @Test
  void servicesOpenedAndClosedReleaseTheirVmsAndMemory() throws Exception {
    for (int i = 0; i < 5; i++) {
      oneService();
    }
    long fds = openFds();
    long threads = threads();
    for (int i = 0; i < 50; i++) {
      oneService();
    }
    assertThat(openFds()).isLessThanOrEqualTo(fds + 2);
    assertThat(threads()).isLessThanOrEqualTo(threads + 2);
  }

  private static void oneService() {
    try (GuestFixture g = new GuestFixture()) {
      VmspaceId id = g.space(1);
      assertThat(g.run(id, at("one_syscall"), new VextFrame())).isEqualTo(RunResult.SYSCALL);
    }
  }

  static long openFds() throws IOException {
    try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
      return s.count();
    }
  }

  static long threads() throws IOException {
    try (Stream<Path> s = Files.list(Path.of("/proc/self/task"))) {
      return s.count();
    }
  }

  static long rssKb() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new IllegalStateException("no VmRSS");
  }
}
