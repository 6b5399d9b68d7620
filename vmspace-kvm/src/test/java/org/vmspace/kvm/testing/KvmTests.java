package org.vmspace.kvm.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import org.vmspace.api.VmspaceOptions;
import org.vmspace.api.VmspaceService;
import org.vmspace.api.Vmspaces;

/**
 * Opening services for tests that need KVM. Such a test is tagged {@code @Tag("kvm")}: the build
 * runs those classes where KVM is, natively or inside the emulated SVM machine (scripts/kvm-java),
 * and never skips one. Without {@code /dev/kvm} it fails.
 */
public final class KvmTests {
  /** The JUnit tag of test classes that need KVM. */
  public static final String TAG = "kvm";

  private KvmTests() {}

  /** Fails unless {@code /dev/kvm} is present. */
  public static void requireKvm() {
    requireDevice(Path.of("/dev/kvm"));
  }

  /** Fails with an {@link AssertionError} that says what to do if {@code device} is missing. */
  public static void requireDevice(Path device) {
    if (!Files.exists(device)) {
      throw new AssertionError(device + " is missing: a test that needs KVM must be tagged @Tag(\"kvm\"), which the build runs where KVM is "
          + "(natively, or in the emulated SVM machine: scripts/kvm-java)");
    }
  }
  /**
   * How many times longer a bound on promptness (a timeout that must end a run soon after it
   * expires, an interrupt that must arrive soon) may be here: 1 on a real /dev/kvm, 10 in the
   * emulated machine (scripts/kvm-java says where with -Dvmspace.kvm.where), whose one emulated
   * CPU runs the JVM and the guest tens of times slower.
   */
  public static long timeScale() {
    return System.getProperty("vmspace.kvm.where", "native").startsWith("emulated") ? 10 : 1;
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
