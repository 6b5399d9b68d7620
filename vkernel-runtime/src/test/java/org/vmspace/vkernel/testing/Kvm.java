package org.vmspace.vkernel.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.vmspace.api.VmspaceOptions;
import org.vmspace.api.VmspaceService;
import org.vmspace.api.Vmspaces;

/**
 * Services for runtime tests that need KVM: skipped without {@code /dev/kvm} on a developer
 * machine, failing loudly when {@code CI} is set or {@code -Dvmspace.requireKvm=true}.
 */
public final class Kvm {
  private Kvm() {}

  public static VmspaceService open() {
    boolean required = Boolean.getBoolean("vmspace.requireKvm") || System.getenv("CI") != null;
    boolean present = Files.exists(Path.of("/dev/kvm"));
    if (!present && required) {
      throw new AssertionError("/dev/kvm is missing but KVM is required (CI is set or -Dvmspace.requireKvm=true)");
    }
    assumeTrue(present, "/dev/kvm is missing: KVM tests skipped on this developer machine");
    return Vmspaces.open(VmspaceOptions.builder().memoryLimit(1L << 30).maxVcpus(16).backend("kvm").build());
  }

  /** Fails with the Debian package to install unless {@code program} exists. */
  public static String require(String program, String debianPackage) {
    if (!Files.isExecutable(Path.of(program))) {
      throw new AssertionError(program + " is missing: apt-get install " + debianPackage + " (see README.md)");
    }
    return program;
  }
}
