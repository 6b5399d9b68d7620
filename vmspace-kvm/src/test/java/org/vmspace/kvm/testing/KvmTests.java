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
    requireDevice(Path.of("/dev/kvm"), isRequired());
  }

  /** Whether KVM tests must fail rather than skip without KVM: CI or -Dvmspace.requireKvm=true. */
  public static boolean isRequired() {
    return Boolean.getBoolean("vmspace.requireKvm") || System.getenv("CI") != null;
  }

  /**
   * Fails with an {@link AssertionError} if {@code device} is missing and KVM is required, skips
   * the test if it is missing and not required.
   */
  public static void requireDevice(Path device, boolean required) {
    boolean present = Files.exists(device);
    if (!present && required) {
      throw new AssertionError(
          device + " is missing but KVM is required (CI is set or -Dvmspace.requireKvm=true)");
    }
    assumeTrue(present, device + " is missing: KVM tests skipped on this developer machine");
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
