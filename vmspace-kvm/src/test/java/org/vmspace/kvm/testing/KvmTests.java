package org.vmspace.kvm.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.vmspace.api.VmspaceOptions;
import org.vmspace.api.VmspaceService;
import org.vmspace.api.Vmspaces;

/**
 * Opening services for tests that need KVM. Without {@code /dev/kvm} such a test is skipped
 * only on a developer machine: when {@code CI} is set or {@code -Dvmspace.requireKvm=true}, it
 * fails loudly instead.
 */
public final class KvmTests {
  private KvmTests() {}

  /** Fails or skips (see the class comment) unless {@code /dev/kvm} is present. */
  public static void requireKvm() {
    boolean present = Files.exists(Path.of("/dev/kvm"));
    boolean required =
        Boolean.getBoolean("vmspace.requireKvm") || System.getenv("CI") != null;
    if (!present && required) {
      throw new AssertionError(
          "/dev/kvm is missing but KVM is required (CI is set or -Dvmspace.requireKvm=true)");
    }
    assumeTrue(present, "/dev/kvm is missing: KVM tests skipped on this developer machine");
  }

  /** A service on the KVM backend with small limits. */
  public static VmspaceService open() {
    return open(VmspaceOptions.builder().memoryLimit(256L << 20).maxVcpus(8).build());
  }

  /** A service on the KVM backend. */
  public static VmspaceService open(VmspaceOptions options) {
    requireKvm();
    return Vmspaces.open(VmspaceOptions.builder()
        .memoryLimit(options.memoryLimit())
        .maxVcpus(options.maxVcpus())
        .backend("kvm")
        .build());
  }
}
