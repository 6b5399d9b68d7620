package org.vmspace.api;

import java.util.Objects;
import java.util.Optional;

/**
 * How to open a {@link VmspaceService}: immutable, built with {@link #builder()}.
 *
 * <p>Defaults: a memory limit of 4 GiB of guest memory per context, at most 64 execution
 * contexts (vCPUs), and the best backend available.
 */
public final class VmspaceOptions {
  /** The default memory limit: 4 GiB. */
  public static final long DEFAULT_MEMORY_LIMIT = 4L << 30;
  /** The default number of vCPUs a context may create. */
  public static final int DEFAULT_MAX_VCPUS = 64;

  private static final VmspaceOptions DEFAULTS = builder().build();

  private final long memoryLimit;
  private final int maxVcpus;
  private final String backend;

  private VmspaceOptions(Builder b) {
    this.memoryLimit = b.memoryLimit;
    this.maxVcpus = b.maxVcpus;
    this.backend = b.backend;
  }

  /** The default options. */
  public static VmspaceOptions defaults() {
    return DEFAULTS;
  }

  /** A builder starting from the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * The most guest memory (page tables included) the context may use; beyond it calls fail
   * with {@link Errno#ENOMEM}.
   */
  public long memoryLimit() {
    return memoryLimit;
  }

  /** The most vCPUs the context creates; threads beyond it wait for a free one. */
  public int maxVcpus() {
    return maxVcpus;
  }

  /** The backend asked for by name, or empty for the best available. */
  public Optional<String> backend() {
    return Optional.ofNullable(backend);
  }

  @Override
  public String toString() {
    return "VmspaceOptions[memoryLimit=" + memoryLimit + ", maxVcpus=" + maxVcpus
        + ", backend=" + (backend == null ? "best" : backend) + "]";
  }

  /** Builds {@link VmspaceOptions}. Not thread-safe. */
  public static final class Builder {
    private long memoryLimit = DEFAULT_MEMORY_LIMIT;
    private int maxVcpus = DEFAULT_MAX_VCPUS;
    private String backend;

    private Builder() {}

    /**
     * Sets the memory limit in bytes.
     *
     * @throws IllegalArgumentException if below 16 MiB
     */
    public Builder memoryLimit(long bytes) {
      if (bytes < (16L << 20)) {
        throw new IllegalArgumentException("memory limit below 16 MiB: " + bytes);
      }
      this.memoryLimit = bytes;
      return this;
    }

    /**
     * Sets the most vCPUs the context creates.
     *
     * @throws IllegalArgumentException if not between 1 and 1024
     */
    public Builder maxVcpus(int count) {
      if (count < 1 || count > 1024) {
        throw new IllegalArgumentException("maxVcpus must be 1..1024: " + count);
      }
      this.maxVcpus = count;
      return this;
    }

    /** Asks for a backend by name (e.g. {@code kvm}); {@code null} for the best available. */
    public Builder backend(String name) {
      this.backend = name;
      return this;
    }

    /** The options. */
    public VmspaceOptions build() {
      return new VmspaceOptions(this);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof VmspaceOptions other
        && other.memoryLimit == memoryLimit
        && other.maxVcpus == maxVcpus
        && Objects.equals(other.backend, backend);
  }

  @Override
  public int hashCode() {
    return Objects.hash(memoryLimit, maxVcpus, backend);
  }
}
