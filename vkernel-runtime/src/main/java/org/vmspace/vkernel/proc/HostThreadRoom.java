package org.vmspace.vkernel.proc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Function;

/**
 * How many more threads the host lets this process make, as far as the host says: the room left
 * under the pids controller of the process's cgroup (v1 or v2: {@code pids.max - pids.current}).
 * (Not {@code threads-max}: a JVM on some hosts reads a value there that is not the host's, and a
 * machine-wide table is rarely what stops one process first.) Every guest task is a host thread, so a task cap above
 * this room would let a guest use up the host's threads before the cap says EAGAIN, and the JVM
 * could then not start the thread that handles the vkernel's own SIGINT (a lost Ctrl-C).
 * Never throws: what cannot be read does not count.
 */
final class HostThreadRoom {
  /** Threads kept for the JVM's own (signal dispatch, GC, compilers, carriers' spares). */
  static final int JVM_HEADROOM = 128;

  private HostThreadRoom() {}

  /** The room on this host now, or empty when the host states no limit. */
  static OptionalLong now() {
    return of(read(Path.of("/proc/self/cgroup")).map(String::lines).map(s -> s.toList()).orElse(List.of()),
        HostThreadRoom::read);
  }

  /**
   * The room from the lines of {@code /proc/self/cgroup} and the files {@code read} gives (empty
   * for a file that cannot be read).
   */
  static OptionalLong of(List<String> cgroupLines, Function<Path, Optional<String>> read) {
    OptionalLong room = OptionalLong.empty();
    for (String line : cgroupLines) {
      String[] f = line.split(":", 3);
      if (f.length != 3) {
        continue;
      }
      Path dir = null;
      if (f[1].equals("pids")) {
        dir = Path.of("/sys/fs/cgroup/pids" + f[2]); // v1
      } else if (f[0].equals("0") && f[1].isEmpty()) {
        dir = Path.of("/sys/fs/cgroup" + f[2]); // v2
      }
      if (dir != null) {
        room = min(room, difference(read.apply(dir.resolve("pids.max")), read.apply(dir.resolve("pids.current"))));
      }
    }
    return room;
  }

  /** {@code max - current}, empty when either is missing or max is "max" (no limit). */
  private static OptionalLong difference(Optional<String> max, Optional<String> current) {
    try {
      if (max.isEmpty() || current.isEmpty() || max.get().trim().equals("max")) {
        return OptionalLong.empty();
      }
      return OptionalLong.of(Math.max(0, Long.parseLong(max.get().trim()) - Long.parseLong(current.get().trim())));
    } catch (NumberFormatException e) {
      return OptionalLong.empty();
    }
  }

  private static OptionalLong min(OptionalLong a, OptionalLong b) {
    if (a.isEmpty()) {
      return b;
    }
    return b.isEmpty() ? a : OptionalLong.of(Math.min(a.getAsLong(), b.getAsLong()));
  }

  private static Optional<String> read(Path p) {
    try {
      // Not Files.readString: it trusts the size a pseudo-file reports (0 in /proc/sys, where it
      // read "1" of "192735" on this project's host); a stream reads to the end.
      try (var in = Files.newInputStream(p)) {
        return Optional.of(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII));
      }
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }
}
