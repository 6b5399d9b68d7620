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
 * 10^4 create/run/destroy cycles leave the open file descriptors, threads, memfd sizes and
 * resident memory bounded; so do whole services (contexts) opened and closed (issue 16,
 * "Resources"). {@code -Dvmspace.contextCycles} sets how many services (50 by default; 10^3 is
 * the long run, docs/reliability.md).
 */
@Tag("kvm")
class ResourceCycleTest {
  private static final int CONTEXT_CYCLES = Integer.getInteger("vmspace.contextCycles", 50);

  @Test
  void tenThousandCreateRunDestroyCyclesLeaveNothingBehind() throws Exception {
    try (GuestFixture g = new GuestFixture()) {
      cycle(g, 200); // warm up: vCPU, JIT, allocator
      long fds = openFds();
      long threads = threads();
      long memfd = memfdBytes();
      long rss = rssKb();
      long start = System.nanoTime();
      cycle(g, 10_000);
      System.gc();
      assertThat(openFds()).as("open fds").isLessThanOrEqualTo(fds + 2);
      assertThat(threads()).as("threads").isLessThanOrEqualTo(threads + 2);
      // Guest memory is one memfd per context, sized at open: vmspaces must not grow it.
      assertThat(memfdBytes()).as("memfd bytes").isEqualTo(memfd);
      assertThat(rssKb() - rss).as("RSS growth in KiB").isLessThan(64 * 1024);
      System.out.printf("vmspace cycles: 10000 in %d ms; fds %d -> %d, threads %d -> %d, memfd %d -> %d bytes, RSS %d -> %d KiB%n",
          (System.nanoTime() - start) / 1_000_000, fds, openFds(), threads, threads(), memfd, memfdBytes(), rss, rssKb());
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
    System.gc();
    long fds = openFds();
    long threads = threads();
    long memfd = memfdBytes();
    long rss = rssKb();
    String before = memoryStatus();
    long start = System.nanoTime();
    for (int i = 0; i < CONTEXT_CYCLES; i++) {
      oneService();
    }
    System.gc();
    assertThat(openFds()).as("open fds").isLessThanOrEqualTo(fds + 2);
    assertThat(threads()).as("threads").isLessThanOrEqualTo(threads + 2);
    // Each context's memfd (its guest memory) is closed with it.
    assertThat(memfdBytes()).as("memfd bytes of closed contexts").isEqualTo(memfd);
    System.out.printf("context cycles: %d in %d ms; fds %d -> %d, threads %d -> %d, memfd %d -> %d bytes, RSS %d -> %d KiB%n",
        CONTEXT_CYCLES, (System.nanoTime() - start) / 1_000_000, fds, openFds(), threads, threads(), memfd,
        memfdBytes(), rss, rssKb());
    System.out.println("  status before: " + before + "\n  status after: " + memoryStatus());
    assertThat(rssKb() - rss).as("RSS growth in KiB").isLessThan(64 * 1024);

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

  /** The total size of the memfds this process has open (guest memory is memfd-backed). */
  static long memfdBytes() throws IOException {
    long total = 0;
    try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
      for (Path fd : s.toList()) {
        try {
          if (Files.readSymbolicLink(fd).toString().startsWith("/memfd:")) {
            total += Files.size(fd);
          }
        } catch (IOException closedMeanwhile) {
          // The listing's own descriptor, or one closed since: not a memfd we keep.
        }
      }
    }
    return total;
  }

  /** VmRSS and its parts (anonymous, file, shared memory such as memfds), for the report. */
  static String memoryStatus() throws IOException {
    StringBuilder b = new StringBuilder();
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:") || line.startsWith("RssAnon:") || line.startsWith("RssFile:")
          || line.startsWith("RssShmem:")) {
        b.append(line.replaceAll("\\s+", " ")).append("; ");
      }
    }
    Runtime rt = Runtime.getRuntime();
    return b.append("Java heap committed ").append(rt.totalMemory() >> 10).append(" kB").toString();
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
