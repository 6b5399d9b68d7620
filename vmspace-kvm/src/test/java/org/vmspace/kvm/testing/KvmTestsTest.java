package org.vmspace.kvm.testing;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.opentest4j.TestAbortedException;

/** The KVM requirement fails loudly when required and skips only when not. */
class KvmTestsTest {
  private static final Path MISSING = Path.of("/dev/no-such-kvm-device");

  @Test
  void aMissingDeviceFailsWhenRequired() {
    assertThatThrownBy(() -> KvmTests.requireDevice(MISSING, true))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("required");
  }

  @Test
  void aMissingDeviceSkipsOnlyWhenNotRequired() {
    assertThatThrownBy(() -> KvmTests.requireDevice(MISSING, false))
        .isInstanceOf(TestAbortedException.class);
  }

  @Test
  void thisMachineHasKvm() {
    // Every development and CI machine of this project has /dev/kvm: never a silent skip here.
    KvmTests.requireDevice(Path.of("/dev/kvm"), true);
  }
}
