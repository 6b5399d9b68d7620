package org.vmspace.vkernel.fuzz;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.vmspace.vkernel.elf.ElfLoader;
import org.vmspace.vkernel.mem.AddressSpace;
import org.vmspace.vkernel.proc.ExecHarness;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;
import org.vmspace.vkernel.testing.ModelVmspaceService;

/**
 * The exec fuzzer: seeded, structure-aware mutations of valid ELF files, of {@code #!} scripts
 * and of chains of them, each run through the real execve path ({@link ExecHarness}: TaskExec,
 * ElfImage, FileCache, the interpreter lookup, ElfLoader, AddressSpace) against {@link
 * ModelVmspaceService}, one process exec'ing case after case as a shell would.
 *
 * <p>Each case must end, within {@link #CASE_TIMEOUT_MS}, in one of two ways. Either a {@link
 * SyscallError} whose errno is one execve(2) gives for a bad file ({@link #ALLOWED}), after which
 * the vmspace the failed exec made is gone and the previous program is intact; or a loaded
 * program that is consistent: every mapping inside the user range and as the vmspace has it,
 * the stack pointer 16-byte aligned in {@code [stack]} with argc, argv[0] and the auxiliary
 * vector's AT_PHNUM, AT_ENTRY and AT_BASE as the files say, the process started at the
 * interpreter's entry or the program's, each PT_LOAD that no other segment overlaps holding
 * the file's bytes followed by zeros up to the end of its page. Chains of well-formed scripts
 * (whose outcome is known in advance: the argv Linux builds, ELOOP after five scripts, ENOENT or
 * EACCES for the interpreter at the end) are checked exactly. Anything else — another exception,
 * a hang, a wrong errno, a request to the vmspace for memory outside the user range (which the
 * service would refuse) — is a failure; its input is written under {@code target/fuzz-failures}.
 */
final class ExecFuzzer {
  static final long CASE_TIMEOUT_MS = 10_000;
  /** The errnos execve(2) may give for a file it cannot run. */
  static final Set<Integer> ALLOWED = Set.of(LinuxErrno.ENOEXEC, LinuxErrno.EINVAL, LinuxErrno.ENOMEM,
      LinuxErrno.ELOOP, LinuxErrno.E2BIG, LinuxErrno.EACCES, LinuxErrno.ENOENT, LinuxErrno.ELIBBAD, LinuxErrno.EIO,
      LinuxErrno.ENOTDIR, LinuxErrno.ENAMETOOLONG);
  private static final long PAGE = 4096;
  private static final List<byte[]> ARGV = List.of(bytes("prog"), bytes("arg1"));
  private static final List<byte[]> ENVP = List.of(bytes("FUZZ=1"));

  /** What the run saw. */
  static final class Report {
    long cases;
    long loaded;
    final Map<String, Long> errnos = new TreeMap<>();
    final List<String> failures = new ArrayList<>();
    long exactChecks;
    /** Requests for memory past the user limit or wrapping, which the service refused. */
    long refusedOutOfRange;
    long millis;

    @Override
    public String toString() {
      return "cases=" + cases + " loaded=" + loaded + " exact=" + exactChecks + " errnos=" + errnos
          + " refusedOutOfRange=" + refusedOutOfRange + " failures=" + failures.size() + " in " + millis + " ms";
    }
  }

  private final Path root;
  private final Path failuresDir;
  private final ModelVmspaceService vms = new ModelVmspaceService(4L << 30);
  private final ExecHarness harness;
  private final Map<String, byte[]> seeds = new TreeMap<>();
  /** Every file written for the current case and the fixed ones, by guest path. */
  private final Map<String, byte[]> files = new HashMap<>();
  private final ExecutorService runner = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "exec-fuzz");
    t.setDaemon(true);
    return t;
  });
  private long fileTime = 1_000_000;

  ExecFuzzer(Path root, Path failuresDir) throws IOException {
    this.root = root;
    this.failuresDir = failuresDir;
    for (String name : new String[] {"static.elf", "static-bss.elf", "static-pie.elf", "dynamic.elf", "dynamic-pie.elf", "ld.so"}) {
      seeds.put(name, resource("/fuzz/elf/" + name));
    }
    write("/fuzz/ld.so", seeds.get("ld.so"), true);
    for (var e : seeds.entrySet()) {
      write("/fuzz/" + e.getKey(), e.getValue(), true);
    }
    write("/fuzz/empty", new byte[0], true);
    write("/fuzz/noexec", seeds.get("static.elf"), false);
    Files.createDirectories(root.resolve("fuzz/dir"));
    Files.createDirectories(root.resolve("c"));
    // A real dynamically linked program with its real interpreter, where the host has them.
    Path ldso = Path.of("/lib64/ld-linux-x86-64.so.2");
    Path truePath = Path.of("/usr/bin/true");
    if (Files.isRegularFile(ldso) && Files.isRegularFile(truePath)) {
      write("/lib64/ld-linux-x86-64.so.2", Files.readAllBytes(ldso), true);
      seeds.put("true", Files.readAllBytes(truePath));
    }
    harness = new ExecHarness(vms, root);
  }

  static byte[] resource(String name) throws IOException {
    try (InputStream in = ExecFuzzer.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IOException("missing test resource " + name);
      }
      return in.readAllBytes();
    }
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  /** Writes a guest file (executable or not) with a modification time of its own. */
  void write(String guestPath, byte[] content, boolean executable) throws IOException {
    Path p = root.resolve(guestPath.substring(1));
    Files.createDirectories(p.getParent());
    Files.deleteIfExists(p);
    Files.write(p, content);
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(executable ? "rwxr-xr-x" : "rw-r--r--"));
    // A distinct mtime per file: the file cache keys on (dev, ino, mtime, size), and a deleted
    // file's inode may come back within one clock tick with the same size.
    Files.setLastModifiedTime(p, FileTime.from(fileTime++, TimeUnit.SECONDS));
    files.put(guestPath, content);
  }

  /** Runs {@code cases} cases from {@code seed}; the report lists every failure. */
  Report run(long seed, long cases) throws IOException {
    Report rep = new Report();
    long t0 = System.nanoTime();
    Mutator m = new Mutator(new Random(seed));
    for (long i = 0; i < cases; i++) {
      String tag = "seed " + seed + " case " + i;
      Case c = makeCase(m, i);
      runCase(c, tag, rep);
      cleanCase(c);
      if (rep.failures.size() >= 20) {
        break;
      }
    }
    rep.millis = (System.nanoTime() - t0) / 1_000_000;
    rep.refusedOutOfRange = vms.outOfRange();
    return rep;
  }

  /**
   * One case: the files it wrote, the path to exec, and for well-formed chains what Linux
   * gives: the errno, or (errno 0) the argv and the final program.
   */
  record Case(List<String> written, String path, int expectErrno, List<byte[]> expectArgv, String expectExe) {}

  private Case makeCase(Mutator m, long i) throws IOException {
    Random r = m.random();
    String base = "/c/" + i;
    List<String> written = new ArrayList<>();
    int kind = r.nextInt(10);
    if (kind < 6) {
      List<String> names = new ArrayList<>(seeds.keySet());
      byte[] seed = seeds.get(names.get(r.nextInt(names.size())));
      String[] paths = {"/fuzz/ld.so", base, "/missing/ld.so", base + "-s", base + "-loop", "/fuzz/dir", "/fuzz/noexec",
          "/fuzz/empty", "", "fuzz/ld.so", "/fuzz/ld.so/x", "/" + "x".repeat(300) + "/" + "y".repeat(5000),
          "/lib64/ld-linux-x86-64.so.2", "/fuzz/static.elf", "/fuzz/dynamic.elf"};
      byte[] elf = m.mutateElf(seed, paths);
      write(base, elf, true);
      written.add(base);
      // What the hostile PT_INTERP paths name: a script, and an ELF whose PT_INTERP is this one.
      write(base + "-s", bytes("#!" + base + "\n"), true);
      written.add(base + "-s");
      byte[] loop = m.mutateElf(seeds.get("dynamic-pie.elf"), new String[] {base});
      write(base + "-loop", loop, true);
      written.add(base + "-loop");
      return new Case(written, base, -1, null, null);
    }
    // A chain of scripts, each naming the next, the last naming a target.
    int k = 1 + r.nextInt(7);
    String[] targets = {"/fuzz/static.elf", "/fuzz/dynamic-pie.elf", "/missing", base + "-0", base + "-" + (k - 1),
        "/fuzz/dir", "/fuzz/noexec", "/fuzz/empty", "fuzz/static-pie.elf", base + "-elf"};
    int which = r.nextInt(targets.length);
    String target = targets[which];
    if (which == 9) {
      write(target, m.mutateElf(seeds.get("static.elf"), new String[] {"/fuzz/ld.so"}), true);
      written.add(target);
    }
    List<byte[]> args = new ArrayList<>(ARGV);
    String reachedAs = base + "-0";
    int errno = 0;
    for (int j = 0; j < k; j++) {
      String name = base + "-" + j;
      String interp = j + 1 < k ? base + "-" + (j + 1) : target;
      String arg = r.nextInt(3) == 0 ? null : m.word(12) + (r.nextBoolean() ? m.blanks() + m.word(8) : "");
      String line = "#!" + (r.nextBoolean() ? m.blanks() : "") + interp + (arg == null ? "" : m.blanks() + arg)
          + (r.nextBoolean() ? m.blanks() : "") + "\n" + (r.nextBoolean() ? "echo body\n" : "");
      write(name, bytes(line), true);
      written.add(name);
      List<byte[]> next = new ArrayList<>();
      next.add(bytes(interp));
      if (arg != null) {
        next.add(bytes(arg));
      }
      next.add(bytes(reachedAs));
      next.addAll(args.subList(1, args.size()));
      args = next;
      reachedAs = interp;
    }
    String exe = null;
    // What Linux does (exec_binprm): the file at depth d is examined only if d <= 5, and the
    // handler of the script at depth d opens the next file (ENOENT, EACCES) before that check.
    if (k >= 7) {
      errno = LinuxErrno.ELOOP;
    } else if (which == 2) {
      errno = LinuxErrno.ENOENT;
    } else if (which == 5 || which == 6) {
      errno = LinuxErrno.EACCES;
    } else if (k == 6 || which == 3 || which == 4) {
      errno = LinuxErrno.ELOOP; // a loop back into the chain never ends
    } else if (which == 7) {
      errno = LinuxErrno.ENOEXEC;
    } else if (which == 9) {
      errno = -1; // a mutated ELF: only the invariants judge it
    } else {
      exe = target.startsWith("/") ? target : "/" + target;
    }
    if (kind == 9 && errno != LinuxErrno.ELOOP) {
      // The first line mutated into something only the invariants can judge.
      byte[] s0 = files.get(base + "-0");
      write(base + "-0", m.mutateScript(s0), true);
      return new Case(written, base + "-0", -1, null, null);
    }
    return new Case(written, base + "-0", errno, errno == 0 ? args : null, exe);
  }

  private void cleanCase(Case c) throws IOException {
    for (String w : c.written()) {
      Files.deleteIfExists(root.resolve(w.substring(1)));
      files.remove(w);
    }
  }

  private void runCase(Case c, String tag, Report rep) throws IOException {
    rep.cases++;
    int liveBefore = vms.live();
    long outsideBefore = vms.outOfRange();
    runOne(c, tag, rep, liveBefore);
    if (vms.outOfRange() != outsideBefore) {
      fail(rep, tag, c, "the vmspace was asked for memory past the user range (refused)");
    }
  }

  private void runOne(Case c, String tag, Report rep, int liveBefore) throws IOException {
    Future<ExecHarness.Result> f = runner.submit(() -> harness.exec(c.path(), ARGV, ENVP));
    ExecHarness.Result res;
    try {
      res = f.get(CASE_TIMEOUT_MS, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      f.cancel(true);
      fail(rep, tag, c, "hang: no result within " + CASE_TIMEOUT_MS + " ms");
      return;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    } catch (ExecutionException e) {
      Throwable t = e.getCause();
      if (!(t instanceof SyscallError se)) {
        fail(rep, tag, c, "exception " + t);
        return;
      }
      rep.errnos.merge(LinuxErrno.name(se.errno()), 1L, Long::sum);
      if (!ALLOWED.contains(se.errno())) {
        fail(rep, tag, c, "errno " + LinuxErrno.name(se.errno()) + ": " + se.getMessage());
      } else if (c.expectErrno() > 0 && se.errno() != c.expectErrno()) {
        fail(rep, tag, c, "errno " + LinuxErrno.name(se.errno()) + " where Linux gives "
            + LinuxErrno.name(c.expectErrno()) + ": " + se.getMessage());
      } else if (c.expectErrno() == 0) {
        fail(rep, tag, c, "errno " + LinuxErrno.name(se.errno()) + " where Linux runs it: " + se.getMessage());
      } else if (vms.live() != liveBefore) {
        fail(rep, tag, c, "a failed exec left " + vms.live() + " vmspaces, " + liveBefore + " before");
      }
      if (c.expectErrno() > 0) {
        rep.exactChecks++;
      }
      return;
    }
    rep.loaded++;
    if (c.expectErrno() > 0) {
      fail(rep, tag, c, "loaded where Linux gives " + LinuxErrno.name(c.expectErrno()));
      return;
    }
    String problem;
    try {
      problem = check(res);
    } catch (RuntimeException e) {
      problem = "the loaded program cannot be read back: " + e;
    }
    if (problem == null && c.expectErrno() == 0) {
      rep.exactChecks++;
      problem = exactArgv(res, c);
    }
    if (problem == null && vms.live() != 1) {
      problem = vms.live() + " vmspaces after a successful exec";
    }
    if (problem != null) {
      fail(rep, tag, c, problem);
    }
  }

  private static String exactArgv(ExecHarness.Result res, Case c) {
    java.io.ByteArrayOutputStream cmd = new java.io.ByteArrayOutputStream();
    for (byte[] a : c.expectArgv()) {
      cmd.writeBytes(a);
      cmd.write(0);
    }
    if (!Arrays.equals(cmd.toByteArray(), res.cmdline())) {
      return "argv " + printable(res.cmdline()) + " where Linux gives " + printable(cmd.toByteArray());
    }
    if (!res.exePath().equals(c.expectExe())) {
      return "runs " + res.exePath() + " where Linux runs " + c.expectExe();
    }
    return null;
  }

  private static String printable(byte[] b) {
    return new String(b, StandardCharsets.ISO_8859_1).replace('\0', '|');
  }

  private void fail(Report rep, String tag, Case c, String why) throws IOException {
    Files.createDirectories(failuresDir);
    StringBuilder where = new StringBuilder();
    for (String w : c.written()) {
      byte[] b = files.get(w);
      if (b != null) {
        Path out = failuresDir.resolve(tag.replace(' ', '-') + w.replace('/', '_'));
        Files.write(out, b);
        where.append(' ').append(out);
      }
    }
    rep.failures.add(tag + " (exec " + c.path() + "): " + why + "; inputs:" + where);
  }

  // ---------------------------------------------------------------- consistency of a loaded program

  /** The test's own reading of an ELF file: only what the checks need. */
  record Elf(int type, long entry, int phnum, List<long[]> loads, String interp) {
    static Elf parse(byte[] b) {
      ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
      int type = Short.toUnsignedInt(bb.getShort(16));
      long phoff = bb.getLong(32);
      int phnum = Short.toUnsignedInt(bb.getShort(56));
      List<long[]> loads = new ArrayList<>();
      String interp = null;
      for (int i = 0; i < phnum; i++) {
        int at = (int) phoff + 56 * i;
        int pt = bb.getInt(at);
        long off = bb.getLong(at + 8);
        long filesz = bb.getLong(at + 32);
        if (pt == 1) {
          loads.add(new long[] {off, bb.getLong(at + 16), filesz, bb.getLong(at + 40)});
        } else if (pt == 3 && interp == null) {
          int e = (int) off;
          while (b[e] != 0) {
            e++;
          }
          interp = new String(b, (int) off, e - (int) off, StandardCharsets.ISO_8859_1);
        }
      }
      return new Elf(type, bb.getLong(24), phnum, loads, interp);
    }
  }

  /** The consistency of a loaded program; null if it holds, else what is wrong. */
  private String check(ExecHarness.Result res) {
    AddressSpace mm = res.mm();
    List<AddressSpace.Region> regions = mm.regions();
    long prevEnd = 0;
    for (AddressSpace.Region g : regions) {
      if (Long.compareUnsigned(g.start(), prevEnd) < 0 || Long.compareUnsigned(g.end(), g.start()) <= 0
          || Long.compareUnsigned(g.end(), AddressSpace.USER_END) > 0 || (g.start() | g.end()) % PAGE != 0) {
        return "bad region " + Long.toHexString(g.start()) + "-" + Long.toHexString(g.end());
      }
      prevEnd = g.end();
    }
    // The kernel's record and the vmspace agree: the same bytes mapped, with the same protection.
    List<ModelVmspaceService.Range> ranges = vms.ranges(mm.id());
    long recorded = regions.stream().mapToLong(g -> g.end() - g.start()).sum();
    long mapped = ranges.stream().mapToLong(x -> x.end() - x.start()).sum();
    if (recorded != mapped) {
      return "the kernel records " + recorded + " bytes mapped, the vmspace has " + mapped;
    }
    for (AddressSpace.Region g : regions) {
      for (ModelVmspaceService.Range x : ranges) {
        if (Long.compareUnsigned(x.start(), g.end()) < 0 && Long.compareUnsigned(g.start(), x.end()) < 0 && x.prot() != g.prot()) {
          return "protection of " + Long.toHexString(g.start()) + " differs: kernel " + g.prot() + ", vmspace " + x.prot();
        }
      }
    }
    AddressSpace.Region stack = regions.stream().filter(g -> g.name().equals("[stack]")).findFirst().orElse(null);
    long sp = res.rsp();
    if (stack == null || sp % 16 != 0 || Long.compareUnsigned(sp, stack.start()) < 0 || Long.compareUnsigned(sp, stack.end()) >= 0) {
      return "rsp " + Long.toHexString(sp) + " not in an aligned [stack]";
    }
    byte[] exe = files.get(res.exePath());
    if (exe == null) {
      return "runs " + res.exePath() + ", a file the case did not write";
    }
    Elf prog = Elf.parse(exe);
    Map<Long, Long> aux = auxv(mm, sp, (int) Math.min(4096, stack.end() - sp), res.cmdline());
    if (aux == null) {
      return "no argc/argv/auxv on the stack";
    }
    long base = prog.type() == 3 ? ElfLoader.PIE_BASE : 0;
    if (aux.getOrDefault(5L, -1L) != prog.phnum() || aux.getOrDefault(9L, -1L) != base + prog.entry()) {
      return "AT_PHNUM/AT_ENTRY " + aux.get(5L) + "/" + Long.toHexString(aux.getOrDefault(9L, -1L)) + " where the file says "
          + prog.phnum() + "/" + Long.toHexString(base + prog.entry());
    }
    long atBase = aux.getOrDefault(7L, -1L);
    Elf interp = null;
    if (prog.interp() == null) {
      if (atBase != 0 || res.rip() != base + prog.entry()) {
        return "a static program with AT_BASE " + Long.toHexString(atBase) + ", rip " + Long.toHexString(res.rip());
      }
    } else {
      String ip = prog.interp().startsWith("/") ? prog.interp() : "/" + prog.interp();
      byte[] ib = files.get(ip);
      if (ib == null) {
        return "loaded with an interpreter the case did not write: " + prog.interp();
      }
      interp = Elf.parse(ib);
      if (res.rip() != atBase + interp.entry()) {
        return "rip " + Long.toHexString(res.rip()) + " is not the interpreter's entry at AT_BASE " + Long.toHexString(atBase);
      }
    }
    // Each PT_LOAD alone on its pages: the file's bytes, then zeros to the end of the page.
    List<long[]> all = new ArrayList<>();
    for (long[] l : prog.loads()) {
      all.add(new long[] {base + l[1], l[3], l[0], l[2], 0});
    }
    if (interp != null) {
      long ib = interp.type() == 3 ? atBase : 0;
      for (long[] l : interp.loads()) {
        all.add(new long[] {ib + l[1], l[3], l[0], l[2], 1});
      }
    }
    for (long[] s : all) {
      long lo = s[0] & -PAGE;
      long hi = (s[0] + s[1] + PAGE - 1) & -PAGE;
      boolean alone = all.stream().filter(o -> o != s)
          .noneMatch(o -> Long.compareUnsigned(o[0] & -PAGE, hi) < 0 && Long.compareUnsigned(lo, (o[0] + o[1] + PAGE - 1) & -PAGE) < 0);
      if (!alone) {
        continue;
      }
      byte[] file = s[4] == 0 ? exe : files.get(prog.interp().startsWith("/") ? prog.interp() : "/" + prog.interp());
      int n = (int) Math.min(s[3], 64);
      byte[] got = mm.memory().readBytes(s[0], n);
      if (!Arrays.equals(got, Arrays.copyOfRange(file, (int) s[2], (int) s[2] + n))) {
        return "segment at " + Long.toHexString(s[0]) + " does not hold the file's bytes";
      }
      long zeroFrom = s[0] + s[3];
      long zeroTo = Math.min(s[0] + s[1], (zeroFrom + PAGE - 1) & -PAGE);
      int z = (int) Math.min(64, zeroTo - zeroFrom);
      if (z > 0) {
        byte[] tail = mm.memory().readBytes(zeroFrom, z);
        for (byte x : tail) {
          if (x != 0) {
            return "bss at " + Long.toHexString(zeroFrom) + " not zeroed";
          }
        }
      }
    }
    return null;
  }

  /**
   * The auxiliary vector at {@code sp}, type to value, or null if argc and argv[0] there are not
   * the program's arguments ({@code cmdline}, NUL-separated).
   */
  private static Map<Long, Long> auxv(AddressSpace mm, long sp, int len, byte[] cmdline) {
    ByteBuffer st = ByteBuffer.wrap(mm.memory().readBytes(sp, len)).order(ByteOrder.LITTLE_ENDIAN);
    int argc = 0;
    int first = -1;
    for (int i = 0; i < cmdline.length; i++) {
      if (cmdline[i] == 0) {
        argc++;
        first = first < 0 ? i : first;
      }
    }
    if (st.getLong(0) != argc || argc == 0) {
      return null;
    }
    byte[] a0 = mm.memory().readBytes(st.getLong(8), first + 1);
    if (!Arrays.equals(a0, Arrays.copyOf(cmdline, first + 1))) {
      return null;
    }
    int at = 8 * (1 + argc + 1 + ENVP.size() + 1);
    Map<Long, Long> aux = new HashMap<>();
    for (int i = 0; i < 64 && at + 16 <= len; i++, at += 16) {
      long type = st.getLong(at);
      if (type == 0) {
        return aux;
      }
      aux.put(type, st.getLong(at + 8));
    }
    return null;
  }

  /**
   * Execs one file outside a fuzzing run, with the same time limit: the loaded program after the
   * consistency checks, or the {@link SyscallError}.
   *
   * @throws AssertionError for a hang, another exception or an inconsistent program
   */
  ExecHarness.Result execOne(String path) {
    long outsideBefore = vms.outOfRange();
    try {
      return execChecked(path);
    } finally {
      if (vms.outOfRange() != outsideBefore) {
        throw new AssertionError("exec " + path + " asked the vmspace for memory past the user range");
      }
    }
  }

  private ExecHarness.Result execChecked(String path) {
    Future<ExecHarness.Result> f = runner.submit(() -> harness.exec(path, ARGV, ENVP));
    ExecHarness.Result res;
    try {
      res = f.get(CASE_TIMEOUT_MS, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      f.cancel(true);
      throw new AssertionError("exec " + path + " hangs");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof SyscallError se) {
        throw se;
      }
      throw new AssertionError("exec " + path + " threw " + e.getCause(), e.getCause());
    }
    String problem = check(res);
    if (problem != null) {
      throw new AssertionError("exec " + path + ": " + problem);
    }
    return res;
  }

  /** The arguments a program was started with (its /proc/PID/cmdline split at the NULs). */
  static List<String> args(ExecHarness.Result res) {
    List<String> out = new ArrayList<>();
    int from = 0;
    byte[] c = res.cmdline();
    for (int i = 0; i < c.length; i++) {
      if (c[i] == 0) {
        out.add(new String(c, from, i - from, StandardCharsets.ISO_8859_1));
        from = i + 1;
      }
    }
    return out;
  }

  void close() {
    runner.shutdownNow();
    harness.close();
    vms.close();
  }

  ModelVmspaceService service() {
    return vms;
  }
}
