package org.vmspace.kvm.service;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.vmspace.kvm.flavour.ExecutionFlavour;
import org.vmspace.kvm.guest.GuestLayout;
import org.vmspace.kvm.guest.SystemImage;
import org.vmspace.kvm.ioctl.KvmVm;
import org.vmspace.kvm.memory.FrameAllocator;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.paging.Revocation;
import org.vmspace.kvm.paging.TableMemory;
import org.vmspace.kvm.revoke.Maintenance;
import org.vmspace.kvm.linux.Libc;
import org.vmspace.kvm.vcpu.KickSignal;
import org.vmspace.kvm.vcpu.Vcpu;
import org.vmspace.kvm.vcpu.VcpuPool;

/**
 * One KVM VM of a context and what running guests in it needs: its layout, the system image
 * in its system-area memory, its maintenance vCPU (revocations) and its pool of user vCPUs.
 *
 * <p>A context has its main domain, whose guest-physical memory holds every ordinary vmspace,
 * and one domain per memory object used with {@code MAP_VPAGETABLE}, where that object sits at
 * guest-physical 0 so that the hardware walks the caller's tables as written. Thread-safe.
 */
final class Domain implements org.vmspace.kvm.vm.ExecutionDomain, AutoCloseable {
  final KvmVm vm;
  final GuestLayout layout;
  final GuestMemory system;
  final SystemImage image;
  final Maintenance maintenance;
  final VcpuPool vcpus;
  private final Vcpu maintenanceVcpu;
  private final boolean ownsSystemMemory;
  private final TableMemory objectMemory;

  /**
   * Writes the system image into {@code system} and creates the maintenance vCPU (id 0); user
   * vCPUs (ids 1..maxVcpus) are created by the pool on demand.
   *
   * @param system the memory holding the system area from its first byte
   * @param ownsSystemMemory whether {@link #close()} closes {@code system}
   * @param frames where revoked frames go back to, or null if revocations here never free any
   * @param refs the reference counts of those frames, or null with {@code frames}
   * @param objectMemory for a MAP_VPAGETABLE domain, its memory object's bytes by
   *     guest-physical address; null for the main domain
   */
  Domain(
      KvmVm vm,
      GuestLayout layout,
      GuestMemory system,
      boolean ownsSystemMemory,
      ExecutionFlavour flavour,
      MemorySegment cpuid,
      int maxVcpus,
      FrameAllocator frames,
      org.vmspace.kvm.memory.FrameRefs refs,
      TableMemory objectMemory) {
    this.objectMemory = objectMemory;
    this.vm = vm;
    this.layout = layout;
    this.system = system;
    this.ownsSystemMemory = ownsSystemMemory;
    this.image = new SystemImage(system, layout);
    image.write(flavour.stubs());
    this.maintenanceVcpu = Vcpu.create(vm, 0, image, flavour, cpuid, false);
    this.maintenance = new Maintenance(maintenanceVcpu, system, layout, frames, refs,
        flavour.needsTlbShootdown() ? this::shootdown : null,
        flavour.needsTlbShootdown() && flavour.revokesWithHostStores()
            ? (objectMemory != null ? objectMemory : TableMemory.in(system, frames))
            : null);
    this.vcpus = new VcpuPool(maxVcpus, 1, id -> Vcpu.create(vm, id, image, flavour, cpuid, true));
  }

  /**
   * Bumped by every shootdown; a user vCPU whose {@link Vcpu#flushedGeneration} is behind
   * flushes its TLB before it next runs guest code (see {@code RunLoop}).
   */
  final AtomicLong tlbGeneration = new AtomicLong();
  private static final int PID = Libc.getpid();

  /**
   * Makes every user vCPU of this VM drop translations cached before now: later entries flush
   * (the generation moves), and a vCPU in guest mode now is kicked out and waited for, so when
   * this returns none can still use one. Its run loop re-enters on its own, flushing first.
   */
  void shootdown() {
    tlbGeneration.incrementAndGet();
    for (Vcpu v : vcpus.snapshot()) {
      if (!v.inGuest) {
        continue;
      }
      long seen = v.exits;
      int tid = v.ownerTid();
      if (tid != 0) {
        Libc.tgkill(PID, tid, KickSignal.number());
      }
      long spins = 0;
      while (v.inGuest && v.exits == seen) {
        if (++spins < 1000) {
          Thread.onSpinWait();
        } else {
          LockSupport.parkNanos(20_000);
        }
      }
    }
  }

  /** The guest-physical address of the PML4 whose upper half every root of this VM shares. */
  long templateRoot() {
    return layout.gpa(layout.userTemplateRoot());
  }

  /** Applies a revocation of entries in this VM's memory. */
  @Override
  public void revoke(Revocation r) {
    maintenance.apply(r);
  }

  @Override
  public TableMemory tableMemory() {
    if (objectMemory == null) {
      throw new IllegalStateException("the main domain has no caller tables");
    }
    return objectMemory;
  }

  @Override
  public long kernelPml4Entry() {
    return image.kernelPml4Entry();
  }

  /** The maintenance vCPU (its reset XSAVE image is the state new guest threads start with). */
  Vcpu maintenanceVcpu() {
    return maintenanceVcpu;
  }

  /** Closes the vCPUs (waiting briefly for runs in progress), the VM and owned memory. */
  @Override
  public void close() {
    try {
      vcpus.close(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    maintenanceVcpu.close();
    vm.close();
    if (ownsSystemMemory) {
      system.close();
    }
  }
}
