package org.vmspace.vkernel.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * {@link Vfs#resolve}'s one-call case (a path with no link on it, opened by the host at once)
 * against the walk a component at a time, on seeded random trees of directories, files and
 * links (relative, absolute, dangling, looping, into /tmp, /proc and /dev, out of the root) and
 * random paths through them (".", "..", trailing slashes, relative to a random directory, into
 * the mounts): every path resolves to the same node, or fails with the same errno, both ways.
 */
class VfsDirectResolveTest {
  private static final String[] NAMES = {"a", "b", "c", "d", "e"};
  private static final String[] EXTRA = {".", "..", "tmp", "proc", "dev", "sys", "self", "shm", "null", "x"};

  @TempDir Path dir;
  private final List<Vfs> opened = new ArrayList<>();

  @AfterEach
  void tearDown() throws IOException {
    opened.forEach(Vfs::close);
    try (var all = Files.walk(dir)) {
      for (Path p : all.filter(Files::isSymbolicLink).toList()) {
        Files.delete(p);
      }
    }
  }

  @Test
  void directResolutionAgreesWithTheWalk() throws IOException {
    int compared = 0;
    int direct = 0;
    for (long seed = 1; seed <= 6; seed++) {
      Random rnd = new Random(seed);
      Path root = Files.createDirectories(dir.resolve("root" + seed));
      Path tmp = Files.createDirectories(dir.resolve("tmp" + seed));
      List<String> dirs = tree(rnd, root, tmp);
      Vfs vfs = open(root, seed % 2 == 0 ? tmp : null);
      for (int i = 0; i < 1500; i++) {
        String path = path(rnd);
        String cwd = dirs.get(rnd.nextInt(dirs.size()));
        boolean follow = rnd.nextBoolean();
        String walked = outcome(() -> vfs.resolve(path, cwd, follow, false));
        String fast = outcome(() -> vfs.resolve(path, cwd, follow, true));
        assertThat(fast).as("seed %d: %s from %s, follow %s", seed, path, cwd, follow).isEqualTo(walked);
        compared++;
        if (!walked.startsWith("errno") && !walked.startsWith("virtual")) {
          direct++;
        }
      }
    }
    // The comparison means something only if many paths resolved on the host.
    assertThat(compared).isEqualTo(9000);
    assertThat(direct).isGreaterThan(2000);
  }

  private Vfs open(Path root, Path tmp) {
    ProcView procs = mock(ProcView.class);
    when(procs.selfPid()).thenReturn(2);
    when(procs.pids()).thenReturn(List.of(2));
    ProcView.ProcInfo self = mock(ProcView.ProcInfo.class);
    when(self.cwd()).thenReturn("/");
    when(self.exePath()).thenReturn("/a");
    when(procs.process(2)).thenReturn(self);
    Vfs vfs = new Vfs(root, false, tmp, procs);
    opened.add(vfs);
    return vfs;
  }

  /** A random tree under root (and a few entries of the root's /tmp and the private one); its directories' guest paths. */
  private static List<String> tree(Random rnd, Path root, Path tmp) throws IOException {
    List<String> dirs = new ArrayList<>(List.of("/"));
    Files.createDirectories(root.resolve("tmp"));
    dirs.add("/tmp");
    Files.writeString(root.resolve("tmp/x"), "root's\n");
    Files.createDirectories(tmp.resolve("a"));
    for (int i = 0; i < 60; i++) {
      String parent = dirs.get(rnd.nextInt(dirs.size()));
      String name = NAMES[rnd.nextInt(NAMES.length)];
      String guest = parent.equals("/") ? "/" + name : parent + "/" + name;
      Path host = root.resolve(guest.substring(1));
      if (Files.exists(host, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        continue;
      }
      int kind = rnd.nextInt(4);
      if (kind <= 1) {
        Files.createDirectory(host);
        dirs.add(guest);
      } else if (kind == 2) {
        Files.writeString(host, guest + "\n");
      } else {
        Files.createSymbolicLink(host, Path.of(linkTarget(rnd)));
      }
    }
    return dirs;
  }

  private static String linkTarget(Random rnd) {
    return switch (rnd.nextInt(8)) {
      case 0 -> "/tmp/x";
      case 1 -> "/proc/self";
      case 2 -> "/dev/null";
      case 3 -> "../../../../../..";
      default -> path(rnd);
    };
  }

  private static String path(Random rnd) {
    StringBuilder b = new StringBuilder(rnd.nextInt(10) < 7 ? "/" : "");
    int n = 1 + rnd.nextInt(5);
    for (int i = 0; i < n; i++) {
      if (i > 0) {
        b.append('/');
      }
      b.append(rnd.nextInt(4) == 0 ? EXTRA[rnd.nextInt(EXTRA.length)] : NAMES[rnd.nextInt(NAMES.length)]);
    }
    if (rnd.nextInt(10) == 0) {
      b.append('/');
    }
    return b.toString();
  }

  private static String outcome(Supplier<Vfs.Node> resolve) {
    try {
      return switch (resolve.get()) {
        case Vfs.HostNode h -> "host " + h.mount().name() + " " + new String(h.rel(), StandardCharsets.ISO_8859_1)
            + " " + h.guestPath();
        case Vfs.VirtualNode v -> "virtual " + v.guestPath();
      };
    } catch (SyscallError e) {
      return "errno " + e.errno();
    }
  }
}
