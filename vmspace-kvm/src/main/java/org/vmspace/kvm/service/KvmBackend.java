package org.vmspace.kvm.service;

import java.util.LinkedHashMap;
import java.util.Map;
import org.vmspace.api.BackendInfo;
import org.vmspace.api.Errno;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceOptions;
import org.vmspace.api.VmspaceService;
import org.vmspace.api.spi.VmspaceBackend;
import org.vmspace.kvm.flavour.NestedPaging;
import org.vmspace.kvm.flavour.PvmFlavour;
import org.vmspace.kvm.memory.FrameAllocator;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.vm.Vmspace;

/**
 * The KVM backend, found by {@link org.vmspace.api.Vmspaces} through {@link
 * java.util.ServiceLoader}. It probes {@code /dev/kvm} once and opens contexts with the flavour
 * the probe found. On a host whose flavour it cannot run guests on yet, contexts still open:
 * every memory call works and {@code ctl(RUN)} fails with EOPNOTSUPP.
 */
public final class KvmBackend implements VmspaceBackend {
  @Override
  public String name() {
    return "kvm";
  }

  @Override
  public int priority() {
    return 100;
  }

  @Override
  public BackendInfo probe() {
    FlavourProbe.Result r = FlavourProbe.result();
    Map<String, String> details = new LinkedHashMap<>(r.facts());
    details.put("flavour", r.flavourName());
    details.put("why", r.reason());
    details.put("host huge pages", hostHugePages());
    boolean available = r.kvmUsable() || "standard".equals(r.flavourName());
    String summary =
        r.kvmUsable()
            ? r.flavourName() + " flavour: " + r.reason()
            : (available ? "memory calls only; ctl(RUN) unavailable: " : "unavailable: ") + r.reason();
    return new BackendInfo(name(), available, summary, details);
  }

  @Override
  public VmspaceService open(VmspaceOptions options) {
    try {
      // A bad -Dvmspace.forkCopyPages, -Dvmspace.revocationStores or -Dvmspace.keptFreePages
      // fails the open, not a later fork or the first address space.
      Vmspace.forkCopyPages();
      FrameAllocator.keptPagesProperty();
      NestedPaging.hostStoresAllowed();
    } catch (IllegalArgumentException e) {
      throw new VmspaceException(Errno.EINVAL, "vmspace_open", null, e.getMessage());
    }
    FlavourProbe.Result r = FlavourProbe.result();
    BackendInfo info = probe();
    if (!info.available()) {
      throw new VmspaceException(Errno.EOPNOTSUPP, "vmspace_open", null, info.summary());
    }
    // Without a runnable flavour the PVM stubs still give a correct memory layout.
    KvmContext ctx = KvmContext.open(options, r.flavour() != null ? r.flavour() : new PvmFlavour());
    return new KvmVmspaceService(ctx, r.kvmUsable(), info);
  }

  /** What guest memory gets from the host's transparent huge pages, for {@code vkernel info}. */
  private static String hostHugePages() {
    String policy = GuestMemory.hostShmemHugePages();
    if (!KvmContext.HOST_HUGE_PAGES) {
      return "off (-Dvmspace.hostHugePages=false; shmem policy " + policy + ")";
    }
    return GuestMemory.hostHonoursAdvice()
        ? "advised (shmem policy " + policy + ": 2 MiB host pages under guest memory)"
        : "advised, not honoured (shmem policy " + policy + "; "
            + "/sys/kernel/mm/transparent_hugepage/shmem_enabled set to advise enables them)";
  }
}
