package org.vmspace.kvm.ioctl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.kvm.linux.Libc;

/**
 * A KVM virtual machine: guest-physical memory slots and vCPU creation. Thread-safe as the
 * kernel is; {@link #close()} releases the descriptor once every vCPU is closed.
 */
public final class KvmVm implements AutoCloseable {
  private final KvmSystem system;
  private final int fd;
  private volatile boolean closed;

  KvmVm(KvmSystem system, int fd) {
    this.system = system;
    this.fd = fd;
  }

  /** The {@code /dev/kvm} handle this VM was created from. */
  public KvmSystem system() {
    return system;
  }

  /** {@code KVM_CHECK_EXTENSION} on the VM. */
  public int checkExtension(int capability) {
    return Libc.ioctl(fd, Kvm.KVM_CHECK_EXTENSION, capability, "KVM_CHECK_EXTENSION");
  }

  /**
   * {@code KVM_SET_USER_MEMORY_REGION}: maps {@code size} bytes of host memory at {@code host}
   * into guest-physical memory at {@code guestPhys}; a size of 0 deletes the slot.
   */
  public void setUserMemoryRegion(int slot, int flags, long guestPhys, long size, long host) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment region = arena.allocate(32, 8);
      region.set(ValueLayout.JAVA_INT, 0, slot);
      region.set(ValueLayout.JAVA_INT, 4, flags);
      region.set(ValueLayout.JAVA_LONG, 8, guestPhys);
      region.set(ValueLayout.JAVA_LONG, 16, size);
      region.set(ValueLayout.JAVA_LONG, 24, host);
      Libc.ioctl(fd, Kvm.KVM_SET_USER_MEMORY_REGION, region, "KVM_SET_USER_MEMORY_REGION");
    }
  }

  /**
   * {@code KVM_CREATE_VCPU} and the mapping of its {@code kvm_run}.
   *
   * @param id the vCPU id, unique in this VM
   */
  public KvmVcpu createVcpu(int id) {
    int vcpuFd = Libc.ioctl(fd, Kvm.KVM_CREATE_VCPU, id, "KVM_CREATE_VCPU");
    Arena arena = Arena.ofShared();
    try {
      int size = system.vcpuMmapSize();
      MemorySegment run =
          Libc.mmap(size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, vcpuFd, 0, arena);
      return new KvmVcpu(id, vcpuFd, arena, run);
    } catch (RuntimeException e) {
      arena.close();
      Libc.close(vcpuFd);
      throw e;
    }
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      Libc.close(fd);
    }
  }
}
