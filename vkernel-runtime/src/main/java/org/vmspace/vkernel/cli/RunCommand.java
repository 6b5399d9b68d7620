package org.vmspace.vkernel.cli;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.vmspace.api.Errno;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceOptions;
import org.vmspace.api.VmspaceService;
import org.vmspace.api.Vmspaces;
import org.vmspace.vkernel.fs.FdTable;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.HostStdio;
import org.vmspace.vkernel.fs.Stat;
import org.vmspace.vkernel.fs.Vfs;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.net.NetPolicy;
import org.vmspace.vkernel.proc.Kernel;
import org.vmspace.vkernel.proc.KernelConfig;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;
import org.vmspace.vkernel.syscall.Syscalls;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code vkernel run}: runs a static Linux x86-64 program in a vmspace under the virtual
 * kernel, with the caller's stdin, stdout and stderr, and exits with its status (128 plus the
 * signal for a signal death, 124 on --timeout). A program that cannot be run is one line on
 * stderr and status 127 (not found) or 126 (found, not runnable).
 */
@Command(
    name = "run",
    description = {
      "Run a Linux x86-64 program (static ELF, or a #! script) in a vmspace.",
      "The guest's / is the host's / read-only, with a private writable /tmp over the host's, unless --root is given."
    },
    sortOptions = false)
final class RunCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;
  @CommandLine.ParentCommand VkernelCommand parent;

  @Option(names = "--root", paramLabel = "DIR",
      description = "Host directory to use as the guest's / (writable by the guest).")
  Path root;

  @Option(names = "--cwd", paramLabel = "DIR",
      description = "The guest's working directory (default: the current one when it is visible, else /).")
  String cwd;

  @Option(names = "--trace", arity = "0..1", paramLabel = "FILE", fallbackValue = "-",
      preprocessor = AttachedValueOnly.class,
      description = "Print one strace-style line per system call, to stderr or (--trace=FILE) to FILE.")
  String trace;

  @Option(names = "--timeout", paramLabel = "DURATION",
      description = "Kill every guest process after DURATION (e.g. 30s, 500ms, 2m); exit status 124.")
  String timeout;

  @Option(names = "--cpus", paramLabel = "N",
      description = "How many CPUs the guests see: sched_getaffinity, getcpu, /proc/cpuinfo and"
          + " /sys/devices/system/cpu/online agree (1-64; default: the host's).")
  Integer cpus;

  @Option(names = "--net", paramLabel = "POLICY",
      description = "IP networking: host (the host's network, as a process has it), loopback (only 127.0.0.0/8"
          + " and ::1; the default) or none (every destination unreachable).")
  String net;
  @Option(names = "--memory", paramLabel = "SIZE",
      description = "The most memory all guest processes together may commit (e.g. 512M, 2G; default: half the"
          + " host's): mmap, brk and fork get ENOMEM past it.")
  String memory;

  @Option(names = "--pids", paramLabel = "N",
      description = "The most guest tasks (processes and threads) at once: fork, clone and pthread_create get"
          + " EAGAIN at it (default: one per 2 MiB of host memory, 512-32768, and no more than the threads the host"
          + " still allows this process, less 128 for the JVM's own).")
  Integer pids;

  @Option(names = "--files", paramLabel = "N",
      description = "The first process's RLIMIT_NOFILE hard limit (default 1024; 1-1048576).")
  Integer files;

  @Option(names = "--env", paramLabel = "K=V", description = "Set an environment variable (repeatable).")
  List<String> env = new ArrayList<>();

  @Option(names = "--clear-env", description = "Start from an empty environment instead of the caller's.")
  boolean clearEnv;

  @Option(names = "--stats",
      description = "At exit, print to stderr the exits out of guest mode by kind, the time in guest, service"
          + " and kernel, and the system calls by name (see docs/vkernel.md).")
  boolean stats;

  @Option(names = "--jfr", paramLabel = "FILE",
      description = "Record every exit, revocation batch and system call as JFR events into FILE"
          + " (read it with the JDK's jfr print).")
  Path jfr;

  @CommandLine.Mixin Accel accel = new Accel();

  /** How the emulated machine's vkernel gets the environment without showing it in ps. */
  @Option(names = "--environment-file", hidden = true, paramLabel = "FILE",
      description = "Start from the NUL-terminated K=V entries of FILE instead of the caller's environment.")
  Path environmentFile;

  @Parameters(index = "0", paramLabel = "PROGRAM", description = "The program: a path, or a name looked up in PATH.")
  String program;

  @Parameters(index = "1..*", paramLabel = "ARGS", description = "Its arguments.")
  List<String> args = new ArrayList<>();

  /** {@code --trace FILE} would swallow the program's name: only {@code --trace=FILE} gives a file. */
  static final class AttachedValueOnly implements CommandLine.IParameterPreprocessor {
    @Override
    public boolean preprocess(java.util.Stack<String> args, CommandLine.Model.CommandSpec spec,
        CommandLine.Model.ArgSpec argSpec, Map<String, Object> info) {
      if (!"=".equals(info.get("separator"))) {
        args.push("-");
      }
      return false;
    }
  }

  @Override
  public Integer call() throws Exception {
    PrintWriter err = spec.commandLine().getErr();
    Duration limit;
    try {
      limit = timeout == null ? null : parseDuration(timeout);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }
    if (cpus != null && (cpus < 1 || cpus > KernelConfig.MAX_CPUS)) {
      throw new CommandLine.ParameterException(spec.commandLine(),
          "--cpus wants 1-" + KernelConfig.MAX_CPUS + ", got " + cpus);
    }
    NetPolicy netPolicy;
    try {
      netPolicy = net == null ? NetPolicy.LOOPBACK : NetPolicy.parse(net);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }
    Long memoryBytes;
    try {
      memoryBytes = memory == null ? null : MemoryOption.parseSize(memory);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }
    if (pids != null && pids < 1) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--pids wants a positive count, got " + pids);
    }
    if (files != null && (files < 1 || files > FdTable.NR_OPEN)) {
      throw new CommandLine.ParameterException(spec.commandLine(),
          "--files wants 1-" + FdTable.NR_OPEN + ", got " + files);
    }
    Map<String, String> environment = new LinkedHashMap<>(clearEnv ? Map.of() : System.getenv());
    if (environmentFile != null) {
      environment = readEnvironment(environmentFile);
    }
    for (String kv : env) {
      int eq = kv.indexOf('=');
      if (eq <= 0) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--env wants K=V, got '" + kv + "'");
      }
      environment.put(kv.substring(0, eq), kv.substring(eq + 1));
    }
    if (root != null && !Files.isDirectory(root)) {
      err.println("vkernel: --root " + root + ": not a directory");
      return 125;
    }
    if (jfr != null && !writable(err, "--jfr", jfr)) {
      return 125;
    }
    if (accel.forcesEmulation()) {
      return runEmulated(err, "--accel=emulated asks for it", environment);
    }
    KernelConfig.Builder config = KernelConfig.builder();
    if (memoryBytes != null) {
      config.memory(memoryBytes);
    }
    if (pids != null) {
      config.pids(pids);
      java.util.OptionalLong room = KernelConfig.hostThreadRoom();
      if (room.isPresent() && pids > room.getAsLong()) {
        err.println("vkernel: warning: --pids=" + pids + " is more than the " + room.getAsLong()
            + " threads the host still allows this process: past them clone fails with EAGAIN from the host,"
            + " and a second Ctrl-C may find no thread to take it");
      }
    }
    if (files != null) {
      config.files(files);
    }
    long committable = config.build().memory();
    VmspaceService vms;
    try {
      vms = Vmspaces.open(VmspaceOptions.builder().memoryLimit(MemoryOption.backendMemory(committable)).build());
    } catch (VmspaceException | IllegalStateException e) {
      // EINVAL is a bad setting (a -Dvmspace.* property), which the emulated machine would
      // refuse as well: only an unusable KVM sends the run there.
      boolean badSetting = e instanceof VmspaceException v && v.errno() == Errno.EINVAL;
      if (accel.mayEmulate() && !badSetting) {
        return runEmulated(err, EmulatedMachine.whyNotKvm(e.getMessage()), environment);
      }
      err.println("vkernel: no way to run guest code here: " + e.getMessage());
      return 125;
    }
    Path tmp = root == null ? Files.createTempDirectory("vkernel-tmp-") : null;
    PrintStream traceOut = openTrace(err);
    if (trace != null && traceOut == null) {
      vms.close();
      return 125;
    }
    // In the vkernel process itself, what its exit takes back is not released one by one first:
    // with 10^4 guest threads that took seconds after a second Ctrl-C (issue 16).
    boolean exits = parent != null && parent.processExits();
    config.trace(traceOut).net(netPolicy).exitsWithProcess(exits);
    if (cpus != null) {
      config.cpus(cpus);
    }
    if (root != null) {
      config.root(root, true);
    } else {
      config.root(Path.of("/"), false).tmp(tmp);
    }
    try (RunReports reports = RunReports.start(err, stats, jfr);
        Kernel kernel = new Kernel(vms, config.build(), Syscalls::new)) {
      String guestCwd = cwd != null ? cwd : root != null ? "/" : visibleCwd(kernel.vfs());
      List<String> envp = new ArrayList<>();
      environment.forEach((k, v) -> envp.add(k + "=" + v));
      String path = findProgram(kernel.vfs(), program, environment.getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin"),
          guestCwd);
      if (path == null) {
        err.println("vkernel: " + program + ": command not found");
        return 127;
      }
      List<String> argv = new ArrayList<>();
      argv.add(program);
      argv.addAll(args);
      FileDescription[] stdio = {HostStdio.open(0), HostStdio.open(1), HostStdio.open(2)};
      ForwardedSignals forwarded = ForwardedSignals.install(new Escalation(kernel, err));
      Kernel.Exit exit;
      try {
        exit = kernel.run(path, argv, envp, guestCwd, stdio, limit);
      } catch (SyscallError e) {
        return execFailure(err, program, e);
      } finally {
        forwarded.uninstall();
      }
      reports.report(kernel, vms);
      if (exits && jfr == null && kernel.guestThreadsLeft()) {
        // Threads left parked by a kill: the JVM's exit would wait for them. (A --jfr run exits
        // as usual: JFR's shutdown hook deletes its disk repository.)
        parent.exitAtOnce();
      }
      if (exit.timedOut()) {
        err.println("vkernel: " + program + ": timed out after " + timeout + "; killed");
        return 124;
      }
      return exit.shellStatus();
    } finally {
      if (traceOut != null) {
        traceOut.flush();
        if (traceOut != System.err) {
          traceOut.close();
        }
      }
      if (!exits) {
        vms.close(); // else the process's exit closes the VM and unmaps its memory
      }
      if (tmp != null) {
        Vfs.deleteTree(tmp);
      }
    }
  }

  /**
   * This command, with the same options, program and environment, inside the emulated machine
   * (see {@link EmulatedMachine}): {@code --root} is shared writably; the environment goes in a
   * file of a private directory (not on a command line, where {@code ps} would show it), and a
   * {@code --trace} file is written inside to that directory and copied to FILE at the end.
   */
  private int runEmulated(PrintWriter err, String why, Map<String, String> environment)
      throws IOException, InterruptedException {
    String unavailable = EmulatedMachine.whyUnavailable();
    if (unavailable != null) {
      err.println("vkernel: " + why + " and the emulated machine cannot start: " + unavailable);
      return 125;
    }
    EmulatedMachine machine = new EmulatedMachine();
    List<String> inner = new ArrayList<>(List.of("run", "--accel=kvm"));
    if (root != null) {
      inner.add("--root=" + machine.shareWritable(root));
    }
    if (cwd != null) {
      inner.add("--cwd=" + cwd);
    }
    if (timeout != null) {
      inner.add("--timeout=" + timeout);
    }
    if (cpus != null) {
      inner.add("--cpus=" + cpus);
    }
    if (net != null) {
      inner.add("--net=" + net);
    }
    if (stats) {
      inner.add("--stats");
    }
    if (memory != null) {
      inner.add("--memory=" + memory);
    }
    if (pids != null) {
      inner.add("--pids=" + pids);
    }
    if (files != null) {
      inner.add("--files=" + files);
    }
    Path exchange = machine.shareWritable(Files.createTempDirectory("vkernel-emulated-"));
    try {
      return runEmulated(err, why, environment, machine, inner, exchange);
    } finally {
      Vfs.deleteTree(exchange);
    }
  }

  private int runEmulated(PrintWriter err, String why, Map<String, String> environment, EmulatedMachine machine,
      List<String> inner, Path exchange) throws IOException, InterruptedException {
    if ("-".equals(trace)) {
      inner.add("--trace");
    } else if (trace != null) {
      // Opened (and truncated) here first, as a native run would: a bad FILE fails before the boot.
      try {
        Files.newOutputStream(Path.of(trace)).close();
      } catch (IOException e) {
        err.println("vkernel: --trace " + trace + ": " + e.getMessage());
        return 125;
      }
      inner.add("--trace=" + exchange.resolve("trace"));
    }
    if (jfr != null) {
      inner.add("--jfr=" + exchange.resolve("recording.jfr"));
    }
    Path environ = exchange.resolve("environ");
    try (OutputStream out = Files.newOutputStream(environ)) {
      for (Map.Entry<String, String> e : environment.entrySet()) {
        out.write((e.getKey() + "=" + e.getValue() + "\0").getBytes(StandardCharsets.UTF_8));
      }
    }
    inner.add("--environment-file=" + environ);
    inner.add("--");
    inner.add(program);
    inner.addAll(args);
    err.println("vkernel: " + why + "; " + EmulatedMachine.NOTICE);
    try {
      return machine.run(inner, err);
    } finally {
      if (trace != null && !"-".equals(trace)) {
        copyTrace(err, exchange.resolve("trace"), Path.of(trace));
      }
      if (jfr != null) {
        copyTrace(err, exchange.resolve("recording.jfr"), jfr);
      }
    }
  }

  /** Whether FILE can be written (created and truncated now, as the run would); one line if not. */
  private static boolean writable(PrintWriter err, String option, Path file) {
    try {
      Files.newOutputStream(file).close();
      return true;
    } catch (IOException e) {
      err.println("vkernel: " + option + " " + file + ": " + e.getMessage());
      return false;
    }
  }

  /** The NUL-terminated K=V entries of {@code file}, in order. */
  private Map<String, String> readEnvironment(Path file) throws IOException {
    Map<String, String> environment = new LinkedHashMap<>();
    String all = Files.readString(file, StandardCharsets.UTF_8);
    for (String kv : all.split("\0")) {
      int eq = kv.indexOf('=');
      if (eq > 0) {
        environment.put(kv.substring(0, eq), kv.substring(eq + 1));
      }
    }
    return environment;
  }

  /** Writes the inner trace into FILE, whatever FILE is (a file, a FIFO, /dev/stderr). */
  private static void copyTrace(PrintWriter err, Path from, Path to) {
    if (!Files.exists(from)) {
      return;
    }
    try (OutputStream out = Files.newOutputStream(to)) {
      Files.copy(from, out);
    } catch (IOException e) {
      err.println("vkernel: --trace " + to + ": " + e.getMessage());
    }
  }

  private PrintStream openTrace(PrintWriter err) {
    if (trace == null) {
      return null;
    }
    if (trace.equals("-")) {
      return System.err;
    }
    try {
      OutputStream out = Files.newOutputStream(Path.of(trace));
      return new PrintStream(new BufferedOutputStream(out, 1 << 16), false, StandardCharsets.UTF_8);
    } catch (IOException e) {
      err.println("vkernel: --trace " + trace + ": " + e.getMessage());
      return null;
    }
  }

  /** One line for a program that cannot be executed; 127 for missing, 126 otherwise. */
  private static int execFailure(PrintWriter err, String program, SyscallError e) {
    int errno = e.errno();
    String what = switch (errno) {
      case LinuxErrno.ENOENT -> "No such file or directory";
      case LinuxErrno.EACCES -> "Permission denied";
      case LinuxErrno.ENOEXEC -> "cannot execute";
      case LinuxErrno.ELIBBAD -> "cannot execute: its ELF interpreter is not an x86-64 ELF image";
      case LinuxErrno.ENOTDIR -> "Not a directory";
      case LinuxErrno.ELOOP -> "Too many levels of symbolic links";
      case LinuxErrno.E2BIG -> "Argument list too long";
      case LinuxErrno.ENOMEM -> "Cannot allocate memory";
      case LinuxErrno.EIO -> "Input/output error";
      default -> LinuxErrno.name(errno);
    };
    String detail = e.getMessage();
    int colon = detail.indexOf(": ");
    detail = colon < 0 ? "" : detail.substring(colon + 2);
    // Why it cannot be executed, and which file is missing when it is the ELF interpreter.
    boolean showDetail = !detail.isEmpty() && (errno == LinuxErrno.ENOEXEC || errno == LinuxErrno.ELIBBAD
        || detail.startsWith("interpreter "));
    err.println("vkernel: " + program + ": " + what + (showDetail ? " (" + detail + ")" : ""));
    return errno == LinuxErrno.ENOENT || errno == LinuxErrno.ENOTDIR ? 127 : 126;
  }

  /** The host's working directory if the guest can see it as a directory, else {@code /}. */
  private static String visibleCwd(Vfs vfs) {
    String here = Path.of("").toAbsolutePath().normalize().toString();
    return isDirectory(vfs, here, "/") ? here : "/";
  }

  /** PATH search in the guest's namespace, as execvp does; null if not found. */
  static String findProgram(Vfs vfs, String program, String pathVar, String cwd) {
    if (program.contains("/")) {
      return program;
    }
    for (String dir : pathVar.split(":", -1)) {
      String candidate = (dir.isEmpty() ? "." : dir) + "/" + program;
      if (isExecutable(vfs, candidate, cwd)) {
        return candidate;
      }
    }
    return null;
  }

  private static boolean isExecutable(Vfs vfs, String path, String cwd) {
    int mode = mode(vfs, path, cwd);
    return mode != -1 && (mode & 0170000) == Stat.S_IFREG && (mode & 0111) != 0;
  }

  private static boolean isDirectory(Vfs vfs, String path, String cwd) {
    int mode = mode(vfs, path, cwd);
    return mode != -1 && (mode & 0170000) == Stat.S_IFDIR;
  }

  private static int mode(Vfs vfs, String path, String cwd) {
    try (Arena a = Arena.ofConfined()) {
      Vfs.Node n = vfs.resolve(path, cwd, true);
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      if (n instanceof Vfs.HostNode h) {
        int fd = vfs.openPath(h);
        try {
          if (Host.fstat(fd, st) < 0) {
            return -1;
          }
        } finally {
          Host.close(fd);
        }
      } else if (n instanceof Vfs.VirtualNode v && v.entry() != null) {
        v.entry().stat(st, v.guestPath());
      } else {
        return -1;
      }
      return Stat.mode(st);
    } catch (SyscallError e) {
      return -1;
    }
  }

  private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|s|m|h)?");

  /** "30s", "500ms", "2m", "1h", "10" (seconds) or ISO-8601 ("PT30S"). */
  static Duration parseDuration(String s) {
    if (s.startsWith("P") || s.startsWith("p")) {
      try {
        return Duration.parse(s);
      } catch (java.time.format.DateTimeParseException e) {
        throw new IllegalArgumentException("--timeout: cannot parse '" + s + "'");
      }
    }
    Matcher m = DURATION.matcher(s.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException("--timeout: cannot parse '" + s + "' (try 30s, 500ms, 2m)");
    }
    double v = Double.parseDouble(m.group(1));
    String unit = m.group(2) == null ? "s" : m.group(2);
    double millis = switch (unit) {
      case "ms" -> v;
      case "s" -> v * 1000;
      case "m" -> v * 60_000;
      default -> v * 3_600_000;
    };
    if (millis <= 0) {
      throw new IllegalArgumentException("--timeout must be positive");
    }
    return Duration.ofMillis((long) Math.ceil(millis));
  }
}
