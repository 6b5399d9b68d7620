package org.vmspace.vkernel.proc;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Objects;

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
 */
public record KernelConfig(Path root, boolean rootWritable, Path tmp, PrintStream trace, String hostname) {
  public KernelConfig {
    Objects.requireNonNull(root, "root");
    Objects.requireNonNull(hostname, "hostname");
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A builder; the defaults are the host's {@code /} read-only, no private /tmp, no trace. */
  public static final class Builder {
    private Path root = Path.of("/");
    private boolean rootWritable;
    private Path tmp;
    private PrintStream trace;
    private String hostname = "vkernel";

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

    public KernelConfig build() {
      return new KernelConfig(root, rootWritable, tmp, trace, hostname);
    }
  }
}
