package org.vmspace.kvm.service;

import java.lang.foreign.MemorySegment;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceService;
import org.vmspace.kvm.guest.GuestLayout;
import org.vmspace.kvm.paging.PageWalker;
import org.vmspace.kvm.vm.Vmspace;
import org.vmspace.registry.Entry;

/**
 * What tests outside this package may check inside a KVM service: the address map's invariants
 * (entries ordered, never overlapping, inside {@code [0, VM_MAX_USER_ADDRESS)}, the gap
 * augmentation right); and, for the hostile-guest tests, the execution flavour, the system
 * area's layout and bytes, and which guest-physical frame a user page sits in.
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

  /** The name of the context's execution flavour ({@code standard} or {@code pvm}). */
  public static String flavourName(VmspaceService service) {
    return ((KvmVmspaceService) service).context().flavour.name();
  }

  /** The layout of the main VM's system area (its offsets are kernel-image addresses too). */
  public static GuestLayout systemLayout(VmspaceService service) {
    return ((KvmVmspaceService) service).context().main.layout;
  }

  /**
   * A copy of {@code len} bytes of the main VM's system area from {@code offset}, read on the
   * host: what the IDT, stubs, kernel tables, GDT and TSS hold, whatever the guest could see.
   */
  public static byte[] systemBytes(VmspaceService service, long offset, int len) {
    MemorySegment system = ((KvmVmspaceService) service).context().main.system.host();
    return system.asSlice(offset, len).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
  }

  /** The guest-physical address of the PML4 of {@code id}, or -1 if there is no such vmspace. */
  public static long root(VmspaceService service, VmspaceId id) {
    Entry<Vmspace> entry = ((KvmVmspaceService) service).registry().acquire(id.value());
    if (entry == null) {
      return -1;
    }
    try {
      return entry.value().tables().root();
    } finally {
      entry.release();
    }
  }

  /**
   * The guest-physical frame the user page at {@code va} of {@code id} is mapped to, or -1 if it
   * is not present (or there is no such vmspace).
   */
  public static long frameOf(VmspaceService service, VmspaceId id, long va) {
    Entry<Vmspace> entry = ((KvmVmspaceService) service).registry().acquire(id.value());
    if (entry == null) {
      return -1;
    }
    try {
      PageWalker.Translation t = entry.value().tables().lookup(va);
      return t.isPresent() ? t.physical(va) & ~(GuestLayout.PAGE - 1) : -1;
    } finally {
      entry.release();
    }
  }

  /** The main VM's KVM statistics by name ({@code pages_4k}, {@code pages_2m}...). */
  public static java.util.Map<String, Long> vmStatistics(VmspaceService service) {
    return ((KvmVmspaceService) service).context().main.vm.statistics();
  }

  /** Whether the service's guest memory was advised for host huge pages and the kernel took it. */
  public static boolean hugePagesAdvised(VmspaceService service) {
    return ((KvmVmspaceService) service).context().memory.hugePagesAdvised();
  }
}
