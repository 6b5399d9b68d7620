package org.vmspace.vkernel;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The runtime's packages form a layered graph: no package depends, directly or through others,
 * on a package that depends on it. Read from the sources (every {@code org.vmspace.vkernel.x}
 * reference, imports or fully qualified names), so a cycle fails the build as it is written.
 */
class PackageCyclesTest {
  private static final Path SOURCES = Path.of("src/main/java/org/vmspace/vkernel");
  private static final Pattern REFERENCE = Pattern.compile("org\\.vmspace\\.vkernel\\.([a-z]+)\\b");

  static Map<String, Set<String>> dependencies() throws IOException {
    Map<String, Set<String>> deps = new TreeMap<>();
    try (Stream<Path> files = Files.walk(SOURCES)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
        Path rel = SOURCES.relativize(f);
        if (rel.getNameCount() < 2) {
          continue; // the root package's package-info
        }
        String pkg = rel.getName(0).toString();
        Set<String> out = deps.computeIfAbsent(pkg, k -> new TreeSet<>());
        Matcher m = REFERENCE.matcher(Files.readString(f));
        while (m.find()) {
          if (!m.group(1).equals(pkg)) {
            out.add(m.group(1));
          }
        }
      }
    }
    return deps;
  }

  /** The packages reachable from {@code start}. */
  private static Set<String> reachable(Map<String, Set<String>> deps, String start) {
    Set<String> seen = new HashSet<>();
    List<String> work = new ArrayList<>(deps.getOrDefault(start, Set.of()));
    while (!work.isEmpty()) {
      String p = work.removeLast();
      if (seen.add(p)) {
        work.addAll(deps.getOrDefault(p, Set.of()));
      }
    }
    return seen;
  }

  @Test
  void noPackageReachesItself() throws IOException {
    Map<String, Set<String>> deps = dependencies();
    assertThat(deps).containsKeys("proc", "syscall", "fs", "mem", "signal");
    List<String> cycles = new ArrayList<>();
    for (String p : deps.keySet()) {
      if (reachable(deps, p).contains(p)) {
        cycles.add(p + " -> " + deps.get(p));
      }
    }
    assertThat(cycles).as("packages on a dependency cycle").isEmpty();
  }

  @Test
  void theProcessModelDoesNotKnowTheHandlers() throws IOException {
    assertThat(reachable(dependencies(), "proc")).doesNotContain("syscall", "cli");
  }

  @Test
  void theCheckSeesACycleWhenThereIsOne() {
    Map<String, Set<String>> deps = Map.of("a", Set.of("b"), "b", Set.of("c"), "c", Set.of("a"));
    assertThat(reachable(deps, "a")).contains("a");
    assertThat(reachable(Map.of("a", Set.of("b"), "b", Set.of()), "a")).doesNotContain("a");
  }
}
