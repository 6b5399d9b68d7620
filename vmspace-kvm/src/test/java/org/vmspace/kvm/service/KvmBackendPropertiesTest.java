package org.vmspace.kvm.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.vmspace.api.Errno;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceOptions;
import org.vmspace.kvm.flavour.NestedPaging;
import org.vmspace.kvm.memory.FrameAllocator;

/**
 * The backend's system properties are checked at {@code vmspace_open}, with EINVAL, before
 * anything touches /dev/kvm: a bad value neither fails a later call nor passes for an unusable
 * KVM (which would send the vkernel to the emulated machine).
 */
class KvmBackendPropertiesTest {
  @AfterEach
  void clear() {
    System.clearProperty(NestedPaging.PROPERTY);
    System.clearProperty("vmspace.forkCopyPages");
    System.clearProperty(FrameAllocator.KEPT_PROPERTY);
  }

  @Test
  void aBadRevocationStoresValueFailsTheOpenWithEinval() {
    System.setProperty(NestedPaging.PROPERTY, "host");
    assertThatThrownBy(() -> new KvmBackend().open(VmspaceOptions.builder().build()))
        .isInstanceOfSatisfying(VmspaceException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL))
        .hasMessageContaining(NestedPaging.PROPERTY);
  }

  @Test
  void aBadForkCopyBudgetFailsTheOpenWithEinval() {
    System.setProperty("vmspace.forkCopyPages", "-1");
    assertThatThrownBy(() -> new KvmBackend().open(VmspaceOptions.builder().build()))
        .isInstanceOfSatisfying(VmspaceException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
  }

  @Test
  void aBadKeptFramesValueFailsTheOpenWithEinval() {
    System.setProperty(FrameAllocator.KEPT_PROPERTY, "lots");
    assertThatThrownBy(() -> new KvmBackend().open(VmspaceOptions.builder().build()))
        .isInstanceOfSatisfying(VmspaceException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL))
        .hasMessageContaining(FrameAllocator.KEPT_PROPERTY);
  }
}
