package org.vmspace.kvm.service;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.vmspace.api.VmspaceOptions;
import org.vmspace.kvm.flavour.ExecutionFlavour;
import org.vmspace.kvm.guest.GuestLayout;
import org.vmspace.kvm.ioctl.Kvm;
import org.vmspace.kvm.ioctl.KvmSystem;
import org.vmspace.kvm.ioctl.KvmVm;
import org.vmspace.kvm.memory.FrameAllocator;
import org.vmspace.kvm.memory.FrameRefs;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.paging.Revocation;
import org.vmspace.kvm.paging.TableMemory;
import org.vmspace.kvm.vcpu.FpuStates;
import org.vmspace.kvm.vcpu.Runners;
import org.vmspace.kvm.vcpu.Vcpu;
import org.vmspace.kvm.vm.PhysicalSpace;
import org.vmspace.kvm.vm.ServiceMemoryObject;
import org.vmspace.kvm.vm.Vmspace;
import org.vmspace.registry.IdRegistry;

/**
 * One vkernel context on KVM: the main {@link Domain}, whose guest-physical memory (a memfd, one
 * memory slot, sized to the memory limit plus the system area) holds every vmspace of the
 * context, the frames and their reference counts, the {@code MAP_VPAGETABLE} domains of its
 * memory objects, the memory slots of shared host-file mappings, and the id registry.
 *
 * <p>Thread-safe. Closed once, by the last handle.
 */
final class KvmContext implements PhysicalSpace, AutoCloseable {
  final VmspaceOptions options;
  final ExecutionFlavour flavour;
  final KvmSystem system;
  final GuestLayout layout;
  final GuestMemory memory;
  final Domain main;
  final FrameAllocator frames;
  final FrameRefs refs;
  final FpuStates fpu;
  final Runners runners = new Runners();
  /** The exit counts of every vmspace of the context, destroyed ones included. */
  final ExitLedger exits = new ExitLedger();
  final IdRegistry<Vmspace> registry = new IdRegistry<>(this::discard);
  private final Arena arena = Arena.ofShared();
  private final MemorySegment cpuid;
  private final TableMemory tableMemory;
  private final java.util.Map<ServiceMemoryObject, Domain> vpageDomains = new java.util.IdentityHashMap<>();
  /** Every call that reaches the descriptors or the memory holds it; close drains it. */
  final CallGate gate = new CallGate();
  private volatile boolean closed;
  /** Memory slots for shared host-file mappings live above guest memory. */
  private final java.util.ArrayDeque<Integer> freeSlots = new java.util.ArrayDeque<>();
  private int nextSlot = 1;
  private long nextSlotGpa;
  private static final long SLOT_GPA_LIMIT = 1L << 46;
  private static final int KVM_MEM_READONLY = 2;
  /**
   * Whether the main guest memory asks the host for transparent huge pages ({@code
   * -Dvmspace.hostHugePages=false} turns it off, e.g. to measure what it buys). On by default:
   * a guest's memory is touched in large runs, and a 2 MiB host page lets KVM map 512 guest
   * pages with one leaf.
   */
  static final boolean HOST_HUGE_PAGES =
      !"false".equalsIgnoreCase(System.getProperty("vmspace.hostHugePages", "true"));

  private KvmContext(VmspaceOptions options, ExecutionFlavour flavour, KvmSystem system) {
    this.options = options;
    this.flavour = flavour;
    this.system = system;
    checkCapabilities(system);
    int areas = options.maxVcpus() + 1;
    long limit = roundUp(options.memoryLimit(), 2L << 20);
    GuestLayout l = new GuestLayout(0, limit + (2L << 20), areas);
    while (l.systemSize() + limit > l.physicalEnd()) {
      l = new GuestLayout(0, l.systemSize() + limit, areas);
    }
    this.layout = l;
    KvmVm createdVm = null;
    GuestMemory createdMemory = null;
    try {
      createdVm = system.createVm();
      createdMemory = GuestMemory.create("vmspace", layout.physicalEnd(), HOST_HUGE_PAGES);
      createdMemory.registerWith(createdVm, 0);
      this.memory = createdMemory;
      this.frames = new FrameAllocator(memory, layout.systemSize(), layout.physicalEnd(), limit);
      this.refs = new FrameRefs(layout.systemSize(), layout.physicalEnd());
      this.cpuid = system.supportedCpuid(arena);
      this.main = new Domain(createdVm, layout, memory, false, flavour, cpuid, options.maxVcpus(), frames, refs, null);
      MemorySegment initialFpu = arena.allocate(Vcpu.XSAVE_SIZE, 64);
      main.maintenanceVcpu().kvm().getXsave(initialFpu);
      this.fpu = new FpuStates(initialFpu);
      this.nextSlotGpa = roundUp(layout.physicalEnd(), 1L << 30);
      this.tableMemory = TableMemory.in(memory, frames);
    } catch (RuntimeException e) {
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
    return main.templateRoot();
  }

  @Override
  public void revoke(Revocation revocation) {
    // From a host file's close too, outside any call: a closed context has nothing left to revoke.
    if (!revocation.isEmpty() && gate.tryEnter()) {
      try {
        main.revoke(revocation);
      } finally {
        gate.leave();
      }
    }
  }

  boolean isClosed() {
    return closed || gate.isClosing();
  }

  @Override
  public org.vmspace.kvm.vm.ExecutionDomain vpageDomain(ServiceMemoryObject object) {
    synchronized (vpageDomains) {
      if (closed) {
        throw new IllegalStateException("context is closed");
      }
      Domain d = vpageDomains.get(object);
      if (d == null) {
        d = createVpageDomain(object);
        vpageDomains.put(object, d);
      }
      return d;
    }
  }

  /**
   * A VM whose guest-physical memory is the object at 0 and a system area above it: the
   * object's pages are the same host pages as in the main VM (its slice of the memfd mapping),
   * and in the system area the stubs, the IDT and the maintenance code are read-only to the
   * guest, so that caller tables that map them cannot change them.
   */
  private Domain createVpageDomain(ServiceMemoryObject object) {
    long size = object.size();
    long base = roundUp(size, 1L << 30);
    int areas = options.maxVcpus() + 1;
    GuestLayout l = new GuestLayout(base, base + (2L << 20), areas);
    while (base + l.systemSize() > l.physicalEnd()) {
      l = new GuestLayout(base, base + l.systemSize(), areas);
    }
    KvmVm vm = system.createVm();
    GuestMemory sys = null;
    try {
      vm.setUserMemoryRegion(0, 0, 0, size, memory.host().address() + object.base());
      sys = GuestMemory.create("vmspace-vpage", l.systemSize());
      // Code and the IDT are read-only to the guest; page tables are not: with nested paging
      // the CPU may check its walks of guest page tables for write access (AMD NPT; Intel EPT
      // with accessed/dirty bits), and KVM answers such a fault on a read-only slot by
      // retrying it forever.
      long[] bounds = {0, GuestLayout.KERNEL_PDPT, l.maintenanceCode(), l.vcpuArea(0), l.systemSize()};
      for (int i = 0; i + 1 < bounds.length; i++) {
        vm.setUserMemoryRegion(1 + i, i % 2 == 0 ? KVM_MEM_READONLY : 0, base + bounds[i],
            bounds[i + 1] - bounds[i], sys.host().address() + bounds[i]);
      }
      TableMemory objectMemory = TableMemory.of(memory.host().asSlice(object.base(), size));
      return new Domain(vm, l, sys, true, flavour, cpuid, options.maxVcpus(), null, null, objectMemory);
    } catch (RuntimeException e) {
      vm.close();
      if (sys != null) {
        sys.close();
      }
      throw e;
    }
  }

  /** The memory object's pages are being released: its MAP_VPAGETABLE VM goes first. */
  void memoryObjectReleased(ServiceMemoryObject object) {
    // Also from the object's close outside any call; a closing context closes the domain itself.
    if (!gate.tryEnter()) {
      return;
    }
    try {
      Domain d;
      synchronized (vpageDomains) {
        d = vpageDomains.remove(object);
      }
      if (d != null) {
        d.close();
      }
    } finally {
      gate.leave();
    }
  }

  /** Tears a vmspace down (the registry's last reference is gone, or it was never registered). */
  void discard(Vmspace vs) {
    try {
      vs.destroy();
    } finally {
      exits.retire(vs);
    }
  }

  @Override
  public void stopRuns(java.util.Collection<Thread> threads) {
    for (Thread t : threads) {
      runners.interrupt(t);
    }
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(5);
    for (Thread t : threads) {
      while (runners.isInRun(t) && System.nanoTime() - deadline < 0) {
        Thread.onSpinWait();
      }
    }
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
    MemorySegment host;
    try {
      int prot = org.vmspace.kvm.linux.Libc.PROT_READ | (writable ? org.vmspace.kvm.linux.Libc.PROT_WRITE : 0);
      host = org.vmspace.kvm.linux.Libc.mmap(bytes, prot, org.vmspace.kvm.linux.Libc.MAP_SHARED, fd, 0, mapping);
      main.vm.setUserMemoryRegion(slot, writable ? 0 : KVM_MEM_READONLY, gpa, bytes, host.address());
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
      public MemorySegment host() {
        return host;
      }

      @Override
      public void remove() {
        // From a host file's close too: only an open context's VM still has the slot.
        if (gate.tryEnter()) {
          try {
            main.vm.setUserMemoryRegion(slot, 0, base, 0, 0);
          } finally {
            gate.leave();
          }
        }
        mapping.close();
        synchronized (freeSlots) {
          freeSlots.push(slot);
        }
      }
    };
  }

  /**
   * Releases the VM and its memory once no call uses them: refuses new calls, interrupts the runs
   * in progress (again every 10 ms, so that a run that had not yet reached its vCPU stops too)
   * and waits for every call to leave, then closes the descriptors and unmaps the memory. A call
   * that does not leave within {@link #DRAIN_LIMIT_NANOS} (or a close from inside a call) leaves
   * the context's descriptors and memory unreleased rather than pull them from under it: a leak,
   * reported on the system logger, never a use of a closed or reused descriptor.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (!gate.closeAndDrain(this::interruptRuns, DRAIN_LIMIT_NANOS)) {
      System.getLogger(KvmContext.class.getName()).log(System.Logger.Level.WARNING,
          "vmspace context closed while calls were still in progress: its VM and memory are left allocated");
      return;
    }
    java.util.List<Domain> domains = new java.util.ArrayList<>();
    synchronized (vpageDomains) {
      domains.addAll(vpageDomains.values());
      vpageDomains.clear();
    }
    domains.add(main);
    for (Domain d : domains) {
      d.close();
    }
    memory.close();
    system.close();
    arena.close();
  }

  /** How long {@link #close()} waits for calls in progress (runs are interrupted, so: briefly). */
  static final long DRAIN_LIMIT_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(10);

  private void interruptRuns() {
    java.util.List<Domain> domains = new java.util.ArrayList<>();
    synchronized (vpageDomains) {
      domains.addAll(vpageDomains.values());
    }
    domains.add(main);
    for (Domain d : domains) {
      for (Vcpu v : d.vcpus.snapshot()) {
        Thread t = v.ownerThread();
        if (t != null) {
          runners.interrupt(t);
        }
      }
    }
  }
}
