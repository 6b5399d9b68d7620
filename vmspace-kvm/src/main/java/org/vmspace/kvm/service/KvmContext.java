package org.vmspace.kvm.service;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.vmspace.api.VmspaceOptions;
import org.vmspace.kvm.flavour.ExecutionFlavour;
import org.vmspace.kvm.guest.GuestLayout;
import org.vmspace.kvm.guest.SystemImage;
import org.vmspace.kvm.ioctl.Kvm;
import org.vmspace.kvm.ioctl.KvmSystem;
import org.vmspace.kvm.ioctl.KvmVm;
import org.vmspace.kvm.memory.FrameAllocator;
import org.vmspace.kvm.memory.FrameRefs;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.paging.Revocation;
import org.vmspace.kvm.paging.TableMemory;
import org.vmspace.kvm.revoke.Maintenance;
import org.vmspace.kvm.vcpu.FpuStates;
import org.vmspace.kvm.vcpu.Runners;
import org.vmspace.kvm.vcpu.Vcpu;
import org.vmspace.kvm.vcpu.VcpuPool;
import org.vmspace.kvm.vm.PhysicalSpace;
import org.vmspace.kvm.vm.Vmspace;
import org.vmspace.registry.IdRegistry;

/**
 * One vkernel context on KVM: a VM whose guest-physical memory (a memfd, one memory slot, sized
 * to the memory limit plus the system area) holds every vmspace of the context, the system image,
 * the maintenance vCPU that applies revocations, the pool of user vCPUs, and the id registry.
 *
 * <p>Thread-safe. Closed once, by the last handle.
 */
final class KvmContext implements PhysicalSpace, AutoCloseable {
  final VmspaceOptions options;
  final ExecutionFlavour flavour;
  final KvmSystem system;
  final KvmVm vm;
  final GuestLayout layout;
  final GuestMemory memory;
  final SystemImage image;
  final FrameAllocator frames;
  final FrameRefs refs;
  final Maintenance maintenance;
  final VcpuPool vcpus;
  final FpuStates fpu;
  final Runners runners = new Runners();
  final IdRegistry<Vmspace> registry = new IdRegistry<>(Vmspace::destroy);
  private final Arena arena = Arena.ofShared();
  private final Vcpu maintenanceVcpu;
  private final TableMemory tableMemory;
  private volatile boolean closed;
  /** Memory slots for shared host-file mappings live above guest memory. */
  private final java.util.ArrayDeque<Integer> freeSlots = new java.util.ArrayDeque<>();
  private int nextSlot = 1;
  private long nextSlotGpa;
  private static final long SLOT_GPA_LIMIT = 1L << 46;
  private static final int KVM_MEM_READONLY = 2;

  private KvmContext(VmspaceOptions options, ExecutionFlavour flavour, KvmSystem system) {
    this.options = options;
    this.flavour = flavour;
    this.system = system;
    checkCapabilities(system);
    int areas = options.maxVcpus() + 1;
    long limit = roundUp(options.memoryLimit(), 2L << 20);
    GuestLayout l = new GuestLayout(limit + (2L << 20), areas);
    while (l.systemSize() + limit > l.memorySize()) {
      l = new GuestLayout(l.systemSize() + limit, areas);
    }
    this.layout = l;
    KvmVm createdVm = null;
    GuestMemory createdMemory = null;
    Vcpu createdMaintenance = null;
    try {
      createdVm = system.createVm();
      createdMemory = GuestMemory.create("vmspace", layout.memorySize());
      createdMemory.registerWith(createdVm, 0);
      this.vm = createdVm;
      this.memory = createdMemory;
      this.image = new SystemImage(memory, layout);
      image.write(flavour.stubs());
      this.frames = new FrameAllocator(memory, layout.systemSize(), layout.memorySize(), limit);
      this.refs = new FrameRefs(layout.systemSize(), layout.memorySize());
      MemorySegment cpuid = system.supportedCpuid(arena);
      createdMaintenance = Vcpu.create(vm, 0, image, flavour, cpuid, false);
      this.maintenanceVcpu = createdMaintenance;
      this.maintenance = new Maintenance(maintenanceVcpu, memory, layout, frames);
      MemorySegment initialFpu = arena.allocate(Vcpu.XSAVE_SIZE, 64);
      maintenanceVcpu.kvm().getXsave(initialFpu);
      this.vcpus =
          new VcpuPool(
              options.maxVcpus(), 1, id -> Vcpu.create(vm, id, image, flavour, cpuid, true));
      this.fpu = new FpuStates(initialFpu, vcpus);
      this.nextSlotGpa = roundUp(layout.memorySize(), 1L << 30);
      this.tableMemory =
          new TableMemory() {
            @Override
            public long read(long gpa) {
              return memory.readLong(gpa);
            }

            @Override
            public void write(long gpa, long value) {
              memory.writeLong(gpa, value);
            }

            @Override
            public long allocateTable() {
              return frames.allocate();
            }
          };
    } catch (RuntimeException e) {
      if (createdMaintenance != null) {
        createdMaintenance.close();
      }
      if (createdVm != null) {
        createdVm.close();
      }
      if (createdMemory != null) {
        createdMemory.close();
      }
      arena.close();
      throw e;
    }
  }

  /** Opens a context on {@code /dev/kvm} with the given flavour. */
  static KvmContext open(VmspaceOptions options, ExecutionFlavour flavour) {
    KvmSystem system = KvmSystem.open();
    try {
      return new KvmContext(options, flavour, system);
    } catch (RuntimeException e) {
      system.close();
      throw e;
    }
  }

  private static void checkCapabilities(KvmSystem system) {
    int api = system.apiVersion();
    if (api != Kvm.API_VERSION) {
      throw new IllegalStateException("KVM API version " + api + ", expected " + Kvm.API_VERSION);
    }
    long sync = system.checkExtension(Kvm.KVM_CAP_SYNC_REGS);
    if ((sync & (Kvm.KVM_SYNC_X86_REGS | Kvm.KVM_SYNC_X86_SREGS))
        != (Kvm.KVM_SYNC_X86_REGS | Kvm.KVM_SYNC_X86_SREGS)) {
      throw new IllegalStateException("KVM lacks KVM_CAP_SYNC_REGS for registers and sregs");
    }
    if (system.checkExtension(Kvm.KVM_CAP_IMMEDIATE_EXIT) == 0) {
      throw new IllegalStateException("KVM lacks KVM_CAP_IMMEDIATE_EXIT");
    }
  }

  private static long roundUp(long v, long to) {
    return (v + to - 1) / to * to;
  }

  // ---------------------------------------------------------------- PhysicalSpace

  @Override
  public GuestMemory memory() {
    return memory;
  }

  @Override
  public FrameAllocator frames() {
    return frames;
  }

  @Override
  public FrameRefs refs() {
    return refs;
  }

  @Override
  public TableMemory tableMemory() {
    return tableMemory;
  }

  @Override
  public long templateRoot() {
    return layout.userTemplateRoot();
  }

  @Override
  public void revoke(Revocation revocation) {
    if (!revocation.isEmpty()) {
      maintenance.apply(revocation);
    }
  }

  boolean isClosed() {
    return closed;
  }

  /**
   * Maps {@code bytes} of the file open on {@code fd} shared into the host and registers them as
   * a memory slot of their own (read-only for the guest unless writable), above guest memory.
   */
  org.vmspace.kvm.vm.FileSlotObject.Slot createFileSlot(int fd, long bytes, boolean writable) {
    int slot;
    long gpa;
    synchronized (freeSlots) {
      slot = freeSlots.isEmpty() ? nextSlot++ : freeSlots.pop();
      gpa = nextSlotGpa;
      long span = roundUp(bytes, 2L << 20);
      if (gpa + span > SLOT_GPA_LIMIT) {
        freeSlots.push(slot);
        throw new org.vmspace.kvm.vm.VmFailure(org.vmspace.api.Errno.ENOMEM, "guest-physical space for file mappings is exhausted");
      }
      nextSlotGpa += span;
    }
    Arena mapping = Arena.ofShared();
    try {
      int prot = org.vmspace.kvm.linux.Libc.PROT_READ | (writable ? org.vmspace.kvm.linux.Libc.PROT_WRITE : 0);
      MemorySegment host = org.vmspace.kvm.linux.Libc.mmap(bytes, prot, org.vmspace.kvm.linux.Libc.MAP_SHARED, fd, 0, mapping);
      vm.setUserMemoryRegion(slot, writable ? 0 : KVM_MEM_READONLY, gpa, bytes, host.address());
    } catch (RuntimeException e) {
      mapping.close();
      synchronized (freeSlots) {
        freeSlots.push(slot);
      }
      throw e;
    }
    long base = gpa;
    return new org.vmspace.kvm.vm.FileSlotObject.Slot() {
      @Override
      public long guestPhysicalBase() {
        return base;
      }

      @Override
      public void remove() {
        if (!closed) {
          vm.setUserMemoryRegion(slot, 0, base, 0, 0);
        }
        mapping.close();
        synchronized (freeSlots) {
          freeSlots.push(slot);
        }
      }
    };
  }

  /**
   * Releases the VM and its memory: interrupts runs still in progress, waits for them briefly,
   * then closes everything. Runs that do not stop in time see their memory disappear and fail;
   * the JVM never touches unmapped memory (every mapping belongs to a shared arena).
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (Vcpu v : vcpus.snapshot()) {
      Thread t = v.ownerThread();
      if (t != null) {
        runners.interrupt(t);
      }
    }
    try {
      vcpus.close(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    maintenanceVcpu.close();
    vm.close();
    memory.close();
    system.close();
    arena.close();
  }
}
