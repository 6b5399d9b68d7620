package org.vmspace.kvm.testing;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The KVM requirement fails loudly (it never skips), and KVM tests run where /dev/kvm is. */
@Tag("kvm")
class KvmTestsTest {
  @Test
  void aMissingDeviceFails() {
    assertThatThrownBy(() -> KvmTests.requireDevice(Path.of("/dev/no-such-kvm-device")))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("@Tag(\"kvm\")");
  }

  @Test
  void testsTaggedKvmRunWhereKvmIs() {
    assertThatCode(KvmTests::requireKvm).doesNotThrowAnyException();
  }
}
