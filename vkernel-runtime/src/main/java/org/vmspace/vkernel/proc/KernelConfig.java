package org.vmspace.vkernel.proc;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Objects;
import org.vmspace.vkernel.net.NetPolicy;

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
 * @throws IllegalArgumentException if cpus is out of range
 * @throws NullPointerException if root, hostname or net is null
 */
public record KernelConfig(Path root, boolean rootWritable, Path tmp, PrintStream trace, String hostname, int cpus,
    NetPolicy net) {
  /** The most CPUs a guest can be shown (one 64-bit affinity word). */
  public static final int MAX_CPUS = 64;

  public KernelConfig {
    Objects.requireNonNull(root, "root");
    Objects.requireNonNull(hostname, "hostname");
    Objects.requireNonNull(net, "net");
    if (cpus < 1 || cpus > MAX_CPUS) {
      throw new IllegalArgumentException("cpus must be 1.." + MAX_CPUS + ": " + cpus);
    }
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
   * host's CPU count, {@link NetPolicy#LOOPBACK} networking.
   */
  public static final class Builder {
    private Path root = Path.of("/");
    private boolean rootWritable;
    private Path tmp;
    private PrintStream trace;
    private String hostname = "vkernel";
    private int cpus = hostCpus();
    private NetPolicy net = NetPolicy.LOOPBACK;

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

    public KernelConfig build() {
      return new KernelConfig(root, rootWritable, tmp, trace, hostname, cpus, net);
    }
  }
}
