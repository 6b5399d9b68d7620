package org.vmspace.kvm.service;

import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceService;
import org.vmspace.kvm.vm.Vmspace;
import org.vmspace.registry.Entry;

/**
 * What tests outside this package may check inside a KVM service: the address map's invariants
 * (entries ordered, never overlapping, inside {@code [0, VM_MAX_USER_ADDRESS)}, the gap
 * augmentation right).
 */
public final class ServiceInternals {
  private ServiceInternals() {}

  /**
   * Verifies the address map of {@code id}.
   *
   * @return false if there is no such vmspace
   * @throws IllegalStateException naming the first entry that breaks an invariant
   */
  public static boolean verifyAddressMap(VmspaceService service, VmspaceId id) {
    Entry<Vmspace> entry = ((KvmVmspaceService) service).registry().acquire(id.value());
    if (entry == null) {
      return false;
    }
    try {
      entry.value().verify();
      return true;
    } finally {
      entry.release();
    }
  }
}
