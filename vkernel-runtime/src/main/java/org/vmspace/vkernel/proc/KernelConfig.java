package org.vmspace.vkernel.proc;

import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Objects;
import org.vmspace.vkernel.net.NetPolicy;
import org.vmspace.vkernel.fs.FdTable;

/**
 * How a {@link Kernel} presents the machine to its guests. Immutable; build with {@link
 * #builder()}.
 *
 * @param root the host directory that is the guest's {@code /}
 * @param rootWritable whether guests may change files under it
 * @param tmp a host directory mounted writable at the guest's {@code /tmp}, or null for none
 *     (then {@code /tmp} is the root's)
 * @param trace where strace-style lines go, or null for no tracing
 * @param hostname what uname(2) reports as the node name
 * @param cpus how many CPUs the guests see (1 to {@link #MAX_CPUS}): sched_getaffinity's mask,
 *     getcpu's numbers, /proc/cpuinfo and /sys/devices/system/cpu/{online,possible,present}
 *     agree on it
 * @param net what IP networking the guests may use (see {@link NetPolicy})
 * @param memory the most guest memory, in bytes, across all processes: the commit limit of
 *     private writable mappings and program breaks (mmap, brk, mremap and fork get ENOMEM past
 *     it), and the memory limit the vmspace service is opened with
 * @param pids the most tasks (processes and threads) at once: fork, clone and pthread_create get
 *     EAGAIN at it; also the first process's RLIMIT_NPROC
 * @param files the first process's RLIMIT_NOFILE hard limit (its soft limit is 1024 when that is
 *     lower), 1 to {@link FdTable#NR_OPEN}
 * @param exitsWithProcess whether the kernel's process exits right after its run (the {@code
 *     vkernel} command): then what the host takes back at that exit (host descriptors, guest
 *     memory and vmspaces, the file cache, the idle carrier threads, which are daemons) is left to
 *     it when every guest is killed and at {@link Kernel#close}, rather than released one by one,
 *     which with 10^4 guest threads takes seconds; what would outlive the process (the private
 *     {@code /dev/shm} directory) is still deleted at close
 * @throws IllegalArgumentException if cpus, memory, pids or files is out of range
 * @throws NullPointerException if root, hostname or net is null
 */
public record KernelConfig(Path root, boolean rootWritable, Path tmp, PrintStream trace, String hostname, int cpus,
    NetPolicy net, long memory, int pids, int files, boolean exitsWithProcess) {
  /** The most CPUs a guest can be shown (one 64-bit affinity word). */
  public static final int MAX_CPUS = 64;
  /** The least --memory: a dynamically linked program, its libraries and a few threads. */
  public static final long MIN_MEMORY = 16L << 20;
  /** The default --pids bounds: enough for a parallel build, and not the host's whole thread table. */
  static final int MIN_DEFAULT_PIDS = 512;
  static final int MAX_DEFAULT_PIDS = 32768;

  public KernelConfig {
    Objects.requireNonNull(root, "root");
    Objects.requireNonNull(hostname, "hostname");
    Objects.requireNonNull(net, "net");
    if (cpus < 1 || cpus > MAX_CPUS) {
      throw new IllegalArgumentException("cpus must be 1.." + MAX_CPUS + ": " + cpus);
    }
    if (memory < MIN_MEMORY) {
      throw new IllegalArgumentException("memory must be at least " + MIN_MEMORY + " bytes: " + memory);
    }
    if (pids < 1) {
      throw new IllegalArgumentException("pids must be positive: " + pids);
    }
    if (files < 1 || files > FdTable.NR_OPEN) {
      throw new IllegalArgumentException("files must be 1.." + FdTable.NR_OPEN + ": " + files);
    }
  }

  /** The host's physical memory as this JVM sees it (a container's limit included). */
  static long hostMemory() {
    if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
      return os.getTotalMemorySize();
    }
    return 4L << 30;
  }

  /**
   * The default --memory: half the host's memory, so a memory bomb leaves the other half to the
   * host (the JVM running the vkernel among it), rounded down to 2 MiB, at least {@link
   * #MIN_MEMORY}.
   */
  public static long defaultMemory(long hostBytes) {
    return Math.max(MIN_MEMORY, (hostBytes / 2) & -(2L << 20));
  }

  /**
   * The default --pids: one task per 2 MiB of host memory (each is a host thread with its stack
   * and a vmspace's page tables), between 512 and 32768, so a fork bomb ends in EAGAIN long before
   * the host's thread table or memory is used up.
   */
  public static int defaultPids(long hostBytes) {
    return (int) Math.max(MIN_DEFAULT_PIDS, Math.min(MAX_DEFAULT_PIDS, hostBytes / (2L << 20)));
  }

  /**
   * The default --pids on a host that lets this process make only {@code hostThreadRoom} more
   * threads (empty: no stated limit): {@link #defaultPids(long)}, but at most that room less
   * {@link HostThreadRoom#JVM_HEADROOM} (at least 1), so that the cap, not the host, stops a
   * thread bomb, and the JVM keeps threads for its own work (the SIGINT of a second Ctrl-C).
   */
  public static int defaultPids(long hostBytes, java.util.OptionalLong hostThreadRoom) {
    int byMemory = defaultPids(hostBytes);
    if (hostThreadRoom.isEmpty()) {
      return byMemory;
    }
    return (int) Math.max(1, Math.min(byMemory, hostThreadRoom.getAsLong() - HostThreadRoom.JVM_HEADROOM));
  }

  /** How many more threads the host lets this process make now, if it says (see {@link HostThreadRoom}). */
  public static java.util.OptionalLong hostThreadRoom() {
    return HostThreadRoom.now();
  }

  /** The host's CPU count as this JVM sees it, at most {@link #MAX_CPUS}: the default. */
  public static int hostCpus() {
    return Math.min(MAX_CPUS, Runtime.getRuntime().availableProcessors());
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * A builder; the defaults are the host's {@code /} read-only, no private /tmp, no trace, the
   * host's CPU count, {@link NetPolicy#LOOPBACK} networking, and the memory and task caps of {@link KernelConfig#defaultMemory} and {@link
   * KernelConfig#defaultPids}, 1024 descriptors.
   */
  public static final class Builder {
    private Path root = Path.of("/");
    private boolean rootWritable;
    private Path tmp;
    private PrintStream trace;
    private String hostname = "vkernel";
    private int cpus = hostCpus();
    private NetPolicy net = NetPolicy.LOOPBACK;
    private long memory = defaultMemory(hostMemory());
    private int pids = defaultPids(hostMemory(), HostThreadRoom.now());
    private int files = FdTable.DEFAULT_LIMIT;
    private boolean exitsWithProcess;

    public Builder root(Path dir, boolean writable) {
      this.root = dir;
      this.rootWritable = writable;
      return this;
    }

    public Builder tmp(Path dir) {
      this.tmp = dir;
      return this;
    }

    public Builder trace(PrintStream out) {
      this.trace = out;
      return this;
    }

    public Builder hostname(String name) {
      this.hostname = name;
      return this;
    }

    /** How many CPUs the guests see (1 to 64; more than the host has is allowed). */
    public Builder cpus(int count) {
      this.cpus = count;
      return this;
    }

    /** What IP networking the guests may use. */
    public Builder net(NetPolicy policy) {
      this.net = policy;
      return this;
    }

    /** The most guest memory across all processes, in bytes (default: half the host's). */
    public Builder memory(long bytes) {
      this.memory = bytes;
      return this;
    }

    /**
     * The most tasks at once (default: one per 2 MiB of host memory, 512 to 32768, but no more
     * than the threads the host still allows this process less 128 for the JVM).
     */
    public Builder pids(int count) {
      this.pids = count;
      return this;
    }

    /** The first process's RLIMIT_NOFILE hard limit (default 1024). */
    public Builder files(int count) {
      this.files = count;
      return this;
    }

    /**
     * Whether the process exits right after the run, and leaves what the host takes back to that
     * exit (default false: everything is released, as a long-lived process needs).
     */
    public Builder exitsWithProcess(boolean exits) {
      this.exitsWithProcess = exits;
      return this;
    }

    public KernelConfig build() {
      return new KernelConfig(root, rootWritable, tmp, trace, hostname, cpus, net, memory, pids, files,
          exitsWithProcess);
    }
  }
}
