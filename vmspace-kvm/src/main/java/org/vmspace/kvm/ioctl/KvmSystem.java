package org.vmspace.kvm.ioctl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.kvm.linux.Libc;

/**
 * The {@code /dev/kvm} handle: API version, capabilities, supported CPUID, and VM creation.
 * Thread-safe; {@link #close()} releases the descriptor (VMs keep working).
 */
public final class KvmSystem implements AutoCloseable {
  /** The device path. */
  public static final String DEVICE = "/dev/kvm";

  private final int fd;
  private volatile boolean closed;

  private KvmSystem(int fd) {
    this.fd = fd;
  }

  /**
   * Opens {@code /dev/kvm} read-write.
   *
   * @throws org.vmspace.kvm.linux.LinuxException ENOENT without KVM, EACCES without permission
   */
  public static KvmSystem open() {
    return new KvmSystem(Libc.open(DEVICE, Libc.O_RDWR | Libc.O_CLOEXEC));
  }

  /** {@code KVM_GET_API_VERSION}: 12 on every kernel since 2.6.22. */
  public int apiVersion() {
    return Libc.ioctl(fd, Kvm.KVM_GET_API_VERSION, 0, "KVM_GET_API_VERSION");
  }

  /** {@code KVM_CHECK_EXTENSION}: 0 if unsupported, else a capability-specific value. */
  public int checkExtension(int capability) {
    return Libc.ioctl(fd, Kvm.KVM_CHECK_EXTENSION, capability, "KVM_CHECK_EXTENSION");
  }

  /** {@code KVM_GET_VCPU_MMAP_SIZE}: the size of each vCPU's {@code kvm_run} mapping. */
  public int vcpuMmapSize() {
    return Libc.ioctl(fd, Kvm.KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
  }

  /**
   * {@code KVM_GET_SUPPORTED_CPUID}: a {@code struct kvm_cpuid2} with every leaf KVM can offer,
   * ready for {@link KvmVcpu#setCpuid2}.
   */
  public MemorySegment supportedCpuid(Arena arena) {
    int capacity = 256;
    MemorySegment cpuid = arena.allocate(8 + 40L * capacity, 8);
    cpuid.set(ValueLayout.JAVA_INT, 0, capacity);
    Libc.ioctl(fd, Kvm.KVM_GET_SUPPORTED_CPUID, cpuid, "KVM_GET_SUPPORTED_CPUID");
    return cpuid;
  }

  /** {@code KVM_CREATE_VM} with the default machine type. */
  public KvmVm createVm() {
    int vmFd = Libc.ioctl(fd, Kvm.KVM_CREATE_VM, 0, "KVM_CREATE_VM");
    return new KvmVm(this, vmFd);
  }

  int fd() {
    return fd;
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      Libc.close(fd);
    }
  }
}
