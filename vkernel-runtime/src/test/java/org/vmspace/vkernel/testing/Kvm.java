package org.vmspace.vkernel.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import org.vmspace.api.VmspaceOptions;
import org.vmspace.api.VmspaceService;
import org.vmspace.api.Vmspaces;

/**
 * Services for runtime tests that need KVM. Such a test is tagged {@code @Tag("kvm")}: the build
 * runs those classes where KVM is, natively or inside the emulated SVM machine (scripts/kvm-java),
 * and never skips one. Without {@code /dev/kvm} it fails.
 */
public final class Kvm {
  private Kvm() {}

  public static VmspaceService open() {
    if (!Files.exists(Path.of("/dev/kvm"))) {
      throw new AssertionError("/dev/kvm is missing: a test that needs KVM must be tagged @Tag(\"kvm\"), which the build runs where KVM is "
          + "(natively, or in the emulated SVM machine: scripts/kvm-java)");
    }
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
