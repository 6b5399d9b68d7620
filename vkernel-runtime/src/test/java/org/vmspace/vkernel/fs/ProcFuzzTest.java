package org.vmspace.vkernel.fs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * Fuzzes what guests read from /proc (issue 16, hostile files): seeded random paths under
 * {@code /proc} made of the names it serves, pids, descriptors and thread ids in every spelling
 * ({@code +1}, {@code 01}, {@code -1}, blanks, past 2^31 and 2^32), {@code .}, {@code ..}, empty
 * and long components and odd bytes, resolved, stat'ed, opened and read to the end. Every path
 * must resolve or fail with a {@link SyscallError} of path lookup (ENOENT, ENOTDIR, ELOOP,
 * ENAMETOOLONG, EACCES), every opened entry must read or list without another exception, and
 * a pid, tid or descriptor component that resolves must be spelled as Linux's {@code
 * name_to_int} accepts it (digits, no sign, no leading zero). {@code vkernel.procFuzzCases}
 * (default 10,000) paths from seed {@code vkernel.fuzzSeed} (default 16).
 *
 * <p>Also fuzzes the one parser of a host /proc file, {@link VirtualFs#cpuinfo}, with mutated
 * copies of the host's {@code /proc/cpuinfo}.
 */
class ProcFuzzTest {
  @TempDir
  Path dir;
  Vfs vfs;
  static final Set<Integer> LOOKUP_ERRNOS = Set.of(LinuxErrno.ENOENT, LinuxErrno.ENOTDIR, LinuxErrno.ELOOP,
      LinuxErrno.ENAMETOOLONG, LinuxErrno.EACCES);
  static final int[] PIDS = {1, 2, 37};

  /** A process table of three processes, each with descriptors 0, 1, 2 and 5 and two threads. */
  private static final class FakeProcs implements ProcView {
    @Override
    public int selfPid() {
      return 2;
    }

    @Override
    public int selfTid() {
      return 2;
    }

    @Override
    public ProcInfo process(int pid) {
      for (int p : PIDS) {
        if (p == pid) {
          return info(pid);
        }
      }
      return null;
    }

    private static ProcInfo info(int pid) {
      return new ProcInfo() {
        @Override
        public int pid() {
          return pid;
        }

        @Override
        public String exePath() {
          return "/bin/prog" + pid;
        }

        @Override
        public String comm() {
          return "prog";
        }

        @Override
        public String cwd() {
          return "/";
        }

        @Override
        public byte[] cmdline() {
          return "prog\0-x\0".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        }

        @Override
        public String statLine() {
          return pid + " (prog) S 1 1 1 0 -1 0\n";
        }

        @Override
        public String status() {
          return "Name:\tprog\nPid:\t" + pid + "\n";
        }

        @Override
        public String maps() {
          return "00400000-00401000 r-xp 00000000 00:00 0 /bin/prog\n";
        }

        @Override
        public Map<Integer, FileDescription> fds() {
          Map<Integer, FileDescription> m = new TreeMap<>();
          for (int fd : new int[] {0, 1, 2, 5}) {
            m.put(fd, new VirtualFile(fd == 5 ? "pipe:[5]" : "/dev/null", new byte[] {'x'}, 7));
          }
          return m;
        }

        @Override
        public List<Integer> tids() {
          return List.of(pid, pid + 1000);
        }
      };
    }

    @Override
    public List<Integer> pids() {
      return List.of(1, 2, 37);
    }

    @Override
    public String meminfo() {
      return "MemTotal: 1 kB\n";
    }

    @Override
    public String cpuinfo() {
      return "processor\t: 0\n";
    }

    @Override
    public int cpus() {
      return 2;
    }
  }

  @BeforeEach
  void setUp() throws IOException {
    Path root = Files.createDirectories(dir.resolve("root"));
    Files.createDirectories(root.resolve("bin"));
    vfs = new Vfs(root, false, null, new FakeProcs());
  }

  @AfterEach
  void tearDown() {
    if (vfs != null) {
      vfs.close();
    }
  }

  private static String component(Random r) {
    String[] names = {"self", "thread-self", "task", "fd", "exe", "cwd", "root", "cmdline", "comm", "stat", "status",
        "maps", "mounts", "cpuinfo", "meminfo", ".", "..", "", "1", "2", "37", "1002", "0", "5"};
    String[] numbers = {"+1", "01", "001", "-1", " 1", "1 ", "2147483647", "2147483648", "4294967296", "4294967298",
        "99999999999999999999", "00", "+0", "0x1", "1e0", "\u00b9", "\u00bd", "05", "+5", "2\t"};
    return switch (r.nextInt(8)) {
      case 0, 1, 2, 3, 4 -> names[r.nextInt(names.length)];
      case 5 -> numbers[r.nextInt(numbers.length)];
      case 6 -> "x".repeat(1 + r.nextInt(300));
      default -> {
        StringBuilder s = new StringBuilder();
        for (int i = 0, n = 1 + r.nextInt(6); i < n; i++) {
          char c = (char) (1 + r.nextInt(255));
          s.append(c == '/' ? 'a' : c);
        }
        yield s.toString();
      }
    };
  }

  /** Whether a /proc pid, tid or fd name is spelled as Linux's name_to_int accepts it. */
  private static boolean canonical(String s) {
    return s.matches("0|[1-9][0-9]*");
  }

  /** The pid, tid and fd components of a resolved /proc path, in Linux's spelling. */
  private static String misspelled(String guestPath) {
    String[] c = guestPath.split("/");
    // c[0] is empty, c[1] "proc", c[2] the pid (or self...), then fd/N or task/T/...
    List<String> numeric = new ArrayList<>();
    if (c.length > 2 && !Set.of("self", "thread-self", "mounts", "cpuinfo", "meminfo").contains(c[2])) {
      numeric.add(c[2]);
    }
    for (int i = 3; i + 1 < c.length; i++) {
      if (c[i].equals("fd") || c[i].equals("task")) {
        numeric.add(c[i + 1]);
      }
    }
    for (String n : numeric) {
      if (!canonical(n)) {
        return n;
      }
    }
    return null;
  }

  @Test
  void everyProcPathResolvesCleanlyOrFailsWithALookupErrno() {
    long cases = Long.getLong("vkernel.procFuzzCases", 10_000);
    Random r = new Random(Long.getLong("vkernel.fuzzSeed", 16));
    List<String> failures = new ArrayList<>();
    Map<String, Integer> outcomes = new TreeMap<>();
    try (Arena a = Arena.ofConfined()) {
      MemorySegment buf = a.allocate(65536);
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      for (long i = 0; i < cases && failures.size() < 20; i++) {
        StringBuilder p = new StringBuilder(r.nextInt(8) == 0 ? "/proc/./" : "/proc/");
        for (int j = 0, n = 1 + r.nextInt(5); j < n; j++) {
          p.append(j == 0 ? "" : r.nextInt(10) == 0 ? "//" : "/").append(component(r));
        }
        if (r.nextInt(10) == 0) {
          p.append('/');
        }
        String path = p.toString();
        boolean follow = r.nextBoolean();
        try {
          Vfs.Node node = vfs.resolve(path, "/", follow);
          if (node instanceof Vfs.VirtualNode v && v.entry() == null) {
            outcomes.merge("missing last component", 1, Integer::sum); // the caller's ENOENT (or a creation)
          } else if (node instanceof Vfs.VirtualNode v) {
            String bad = v.guestPath().startsWith("/proc/") ? misspelled(v.guestPath()) : null;
            if (bad != null) {
              failures.add(path + " resolves to " + v.guestPath() + " through the name " + bad + ", which Linux's /proc has not");
              continue;
            }
            v.entry().stat(st, v.guestPath());
            v.entry().lstat(st, v.guestPath());
            readAll(v, buf);
            outcomes.merge("resolved", 1, Integer::sum);
          } else {
            outcomes.merge("host", 1, Integer::sum);
          }
        } catch (SyscallError e) {
          outcomes.merge(LinuxErrno.name(e.errno()), 1, Integer::sum);
          if (!LOOKUP_ERRNOS.contains(e.errno()) && e.errno() != LinuxErrno.EISDIR) {
            failures.add(path + ": errno " + LinuxErrno.name(e.errno()) + " " + e.getMessage());
          }
        } catch (RuntimeException e) {
          failures.add(path.replace("\n", "\\n") + ": " + e);
        }
      }
    }
    System.out.println("proc fuzz: " + cases + " paths: " + outcomes + ", failures " + failures.size());
    assertThat(failures).isEmpty();
    assertThat(outcomes.getOrDefault("resolved", 0)).as(outcomes.toString()).isGreaterThan((int) (cases / 20));
  }

  /** Regression: Integer.parseInt took {@code +1} and {@code 01} for pid 1 (and so for fds, tids). */
  @Test
  void pidsFdsAndTidsAreSpelledAsLinuxReadsThem() {
    for (String missing : new String[] {"/proc/+1", "/proc/01", "/proc/001/maps", "/proc/+37/status", "/proc/2/fd/+0",
        "/proc/2/fd/00", "/proc/2/fd/05", "/proc/self/fd/+5", "/proc/2/task/+2", "/proc/2/task/02/stat",
        "/proc/4294967297", "/proc/2/fd/4294967296", "/proc/ 1", "/proc/1 "}) {
      try {
        Vfs.Node n = vfs.resolve(missing, "/", true);
        assertThat(n).as(missing).isInstanceOfSatisfying(Vfs.VirtualNode.class, v -> assertThat(v.entry()).as(missing).isNull());
      } catch (SyscallError e) {
        assertThat(e.errno()).as(missing).isEqualTo(LinuxErrno.ENOENT); // a missing directory on the way
      }
    }
    for (String present : new String[] {"/proc/1", "/proc/37/maps", "/proc/2/fd/0", "/proc/2/fd/5", "/proc/2/task/1002/stat"}) {
      Vfs.Node n = vfs.resolve(present, "/", false);
      assertThat(n).as(present).isInstanceOfSatisfying(Vfs.VirtualNode.class, v -> assertThat(v.entry()).as(present).isNotNull());
    }
  }

  /** Opens a virtual entry read-only and reads or lists it to the end (a bounded number of calls). */
  private static void readAll(Vfs.VirtualNode v, MemorySegment buf) {
    if (v.entry().linkTarget() != null && !v.entry().isDirectory()) {
      return; // a link resolution did not follow: nothing to read
    }
    FileDescription d;
    try {
      d = v.entry().open(Host.O_RDONLY, v.guestPath());
    } catch (SyscallError e) {
      if (e.errno() == LinuxErrno.ELOOP || e.errno() == LinuxErrno.ENOENT) {
        return; // a link, or a descriptor closed meanwhile
      }
      throw e;
    }
    try {
      for (int i = 0; i < 1000; i++) {
        long n = v.entry().isDirectory() ? d.getdents64(buf, buf.byteSize()) : d.read(buf, buf.byteSize());
        if (n <= 0) {
          return;
        }
      }
      throw new IllegalStateException("no end of file after 1000 reads");
    } finally {
      d.release();
    }
  }

  @Test
  void cpuinfoSurvivesAnyHostText() {
    String host = VirtualFs.hostCpuinfo();
    Random r = new Random(Long.getLong("vkernel.fuzzSeed", 16));
    for (int i = 0; i < 100; i++) {
      StringBuilder s = new StringBuilder(host.isEmpty() ? "processor\t: 0\nflags\t: fpu\n\n" : host);
      for (int m = 0, n = 1 + r.nextInt(4); m < n; m++) {
        int at = s.isEmpty() ? 0 : r.nextInt(s.length());
        switch (r.nextInt(6)) {
          case 0 -> s.setLength(at);
          case 1 -> s.insert(at, "\n\n\n");
          case 2 -> s.insert(at, "processor\t: " + r.nextLong() + "\n");
          case 3 -> s.insert(at, "$1\\ $0 (?m)^");
          case 4 -> s.insert(at, (char) r.nextInt(256));
          default -> s.delete(at, Math.min(s.length(), at + r.nextInt(200)));
        }
      }
      int cpus = 1 + r.nextInt(64);
      String out = VirtualFs.cpuinfo(s.toString(), cpus);
      boolean anyBlock = false;
      for (String b : s.toString().split("\n\n")) {
        anyBlock |= !b.isBlank();
      }
      if (!anyBlock) {
        assertThat(out).isEmpty();
      } else {
        assertThat(out).endsWith("\n\n");
        assertThat(out.split("\n\n", -1)).as("one block per CPU").hasSizeGreaterThanOrEqualTo(cpus);
      }
    }
  }
}
