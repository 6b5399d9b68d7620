package org.vmspace.kvm.ioctl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
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
   * The VM's statistics from {@code KVM_GET_STATS_FD}, by name, each the first value of its
   * descriptor (histograms contribute their first bucket). On x86 they include {@code pages_4k},
   * {@code pages_2m} and {@code pages_1g}: the leaves of each size in KVM's nested (or shadow)
   * tables right now, which is how a caller sees whether host huge pages reach the guest.
   *
   * @throws org.vmspace.kvm.linux.LinuxException where the kernel has no binary statistics
   *     (before Linux 5.14)
   */
  public Map<String, Long> statistics() {
    int statsFd = Libc.ioctl(fd, Kvm.KVM_GET_STATS_FD, 0, "KVM_GET_STATS_FD");
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment header = arena.allocate(24);
      Libc.pread(statsFd, header, 0);
      int nameSize = header.get(ValueLayout.JAVA_INT, 4);
      int count = header.get(ValueLayout.JAVA_INT, 8);
      long descOffset = Integer.toUnsignedLong(header.get(ValueLayout.JAVA_INT, 16));
      long dataOffset = Integer.toUnsignedLong(header.get(ValueLayout.JAVA_INT, 20));
      long descSize = 16L + nameSize;
      MemorySegment descs = arena.allocate(descSize * count);
      Libc.pread(statsFd, descs, descOffset);
      Map<String, Long> stats = new LinkedHashMap<>();
      MemorySegment value = arena.allocate(8);
      for (int i = 0; i < count; i++) {
        MemorySegment d = descs.asSlice(i * descSize, descSize);
        long offset = Integer.toUnsignedLong(d.get(ValueLayout.JAVA_INT, 8));
        Libc.pread(statsFd, value, dataOffset + offset);
        stats.put(cString(d.asSlice(16, nameSize)), value.get(ValueLayout.JAVA_LONG, 0));
      }
      return stats;
    } finally {
      Libc.close(statsFd);
    }
  }

  private static String cString(MemorySegment bytes) {
    int n = 0;
    while (n < bytes.byteSize() && bytes.get(ValueLayout.JAVA_BYTE, n) != 0) {
      n++;
    }
    return new String(bytes.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII);
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
