package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmspace.kvm.testing.GuestFixture.at;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.JMException;
import javax.management.ObjectName;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;
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
  private static final long RSS_BOUND_KIB = 64 * 1024;

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
      assertRssGrowthBounded(rss);
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
    long heapBefore = usedHeapKb();
    Map<String, Long> nmtBefore = nativeMemoryCommitted();
    long start = System.nanoTime();
    for (int i = 0; i < CONTEXT_CYCLES; i++) {
      oneService();
    }
    System.gc();
    // G1 shrinks the heap at the collection but gives the regions back to the kernel later, on
    // its service thread: RSS falls over the next moments, not at once.
    long waited = System.nanoTime();
    while (rssKb() - rss >= RSS_BOUND_KIB && System.nanoTime() - waited < 10_000_000_000L) {
      Thread.sleep(200);
    }
    System.out.printf("  RSS settled after %d ms%n", (System.nanoTime() - waited) / 1_000_000);
    assertThat(openFds()).as("open fds").isLessThanOrEqualTo(fds + 2);
    assertThat(threads()).as("threads").isLessThanOrEqualTo(threads + 2);
    // Each context's memfd (its guest memory) is closed with it.
    assertThat(memfdBytes()).as("memfd bytes of closed contexts").isEqualTo(memfd);
    System.out.printf("context cycles: %d in %d ms; fds %d -> %d, threads %d -> %d, memfd %d -> %d bytes, RSS %d -> %d KiB%n",
        CONTEXT_CYCLES, (System.nanoTime() - start) / 1_000_000, fds, openFds(), threads, threads(), memfd,
        memfdBytes(), rss, rssKb());
    System.out.println("  status before: " + before + "\n  status after: " + memoryStatus());
    if (nmtBefore.isEmpty()) {
      System.out.println("  native memory tracking: off (-XX:NativeMemoryTracking=summary in the test JVM turns it on)");
    } else {
      System.out.println("  native memory tracking, committed KiB before -> after (changes over 256 KiB): "
          + nmtChanges(nmtBefore, nativeMemoryCommitted()));
    }
    assertRssGrowthBounded(rss);
    // A closed context must be garbage: a thread that ran its guests once kept all of it
    // (about 290 KiB of Java heap each) through a per-context ThreadLocal (Runners, fixed).
    assertThat(usedHeapKb() - heapBefore).as("Java heap in use after a collection, growth in KiB")
        .isLessThan(4096 + 16L * CONTEXT_CYCLES);
  }

  private static long usedHeapKb() {
    System.gc();
    Runtime rt = Runtime.getRuntime();
    return (rt.totalMemory() - rt.freeMemory()) >> 10;
  }

  /** Fails if RSS grew past the bound, after printing what the Java heap holds most of. */
  private static void assertRssGrowthBounded(long rssBefore) throws Exception {
    long growth = rssKb() - rssBefore;
    if (growth >= RSS_BOUND_KIB) {
      String histogram = (String) ManagementFactory.getPlatformMBeanServer().invoke(
          new ObjectName("com.sun.management:type=DiagnosticCommand"), "gcClassHistogram",
          new Object[] {new String[0]}, new String[] {String[].class.getName()});
      System.out.println(histogram.lines().limit(25).collect(Collectors.joining("\n")));
    }
    assertThat(growth).as("RSS growth in KiB").isLessThan(RSS_BOUND_KIB);
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
    return b.append("Java heap committed ").append(rt.totalMemory() >> 10).append(" kB, used ")
        .append((rt.totalMemory() - rt.freeMemory()) >> 10).append(" kB").toString();
  }

  /**
   * The JVM's own account of its committed memory by category (Java Heap, Class, Thread, Code,
   * GC, Internal, Other, Arena Chunk...), from Native Memory Tracking; empty unless the test
   * JVM runs with {@code -XX:NativeMemoryTracking=summary}. Memory the JVM does not allocate
   * itself (FFM's malloc through {@code Arena}s is "Other"; the kernel's for KVM is none) is
   * what RSS shows beyond these.
   */
  static Map<String, Long> nativeMemoryCommitted() {
    Map<String, Long> committed = new TreeMap<>();
    String report;
    try {
      report = (String) ManagementFactory.getPlatformMBeanServer().invoke(
          new ObjectName("com.sun.management:type=DiagnosticCommand"), "vmNativeMemory",
          new Object[] {new String[] {"summary"}}, new String[] {String[].class.getName()});
    } catch (JMException | RuntimeException e) {
      System.out.println("  native memory tracking unreadable: " + e);
      return committed;
    }
    Matcher m = Pattern.compile("(?m)^-\\s+(.+?) \\(reserved=\\d+KB, committed=(\\d+)KB\\)").matcher(report);
    while (m.find()) {
      committed.put(m.group(1).strip(), Long.parseLong(m.group(2)));
    }
    return committed;
  }

  private static String nmtChanges(Map<String, Long> before, Map<String, Long> after) {
    StringBuilder b = new StringBuilder();
    after.forEach((category, kib) -> {
      long was = before.getOrDefault(category, 0L);
      if (Math.abs(kib - was) > 256) {
        b.append(category).append(' ').append(was).append(" -> ").append(kib).append("; ");
      }
    });
    return b.isEmpty() ? "none" : b.toString();
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
