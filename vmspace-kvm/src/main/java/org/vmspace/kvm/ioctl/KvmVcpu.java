package org.vmspace.kvm.ioctl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.kvm.linux.Libc;

/**
 * A KVM vCPU: its registers, MSRs, CPUID, signal mask, extended state, and {@code KVM_RUN}.
 *
 * <p>Not thread-safe: one thread drives a vCPU at a time (KVM serialises vCPU ioctls anyway,
 * and running a vCPU from the thread that created it is fastest). {@link #run()} is the hot path:
 * it returns {@code -errno} instead of throwing, so that EINTR costs no exception.
 */
public final class KvmVcpu implements AutoCloseable {
  private final int id;
  private final int fd;
  private final Arena runArena;
  private final KvmRun run;
  private final MemorySegment errnoCapture = Libc.newErrnoCapture();
  private boolean closed;

  KvmVcpu(int id, int fd, Arena runArena, MemorySegment runMapping) {
    this.id = id;
    this.fd = fd;
    this.runArena = runArena;
    this.run = new KvmRun(runMapping);
  }

  /** The vCPU id. */
  public int id() {
    return id;
  }

  /** The shared {@code kvm_run} structure. */
  public KvmRun kvmRun() {
    return run;
  }

  /** {@code KVM_RUN}: 0 after an exit (see {@link KvmRun#exitReason()}), or {@code -errno}. */
  public int run() {
    return Libc.ioctlRaw(errnoCapture, fd, Kvm.KVM_RUN, 0L);
  }

  /** {@code KVM_GET_REGS} into a 144-byte {@code struct kvm_regs}. */
  public void getRegs(MemorySegment regs) {
    Libc.ioctl(fd, Kvm.KVM_GET_REGS, regs, "KVM_GET_REGS");
  }

  /** {@code KVM_SET_REGS} from a 144-byte {@code struct kvm_regs}. */
  public void setRegs(MemorySegment regs) {
    Libc.ioctl(fd, Kvm.KVM_SET_REGS, regs, "KVM_SET_REGS");
  }

  /** {@code KVM_GET_SREGS} into a 312-byte {@code struct kvm_sregs}. */
  public void getSregs(MemorySegment sregs) {
    Libc.ioctl(fd, Kvm.KVM_GET_SREGS, sregs, "KVM_GET_SREGS");
  }

  /** {@code KVM_SET_SREGS} from a 312-byte {@code struct kvm_sregs}. */
  public void setSregs(MemorySegment sregs) {
    Libc.ioctl(fd, Kvm.KVM_SET_SREGS, sregs, "KVM_SET_SREGS");
  }

  /**
   * {@code KVM_SET_MSRS}: sets each {@code indices[i]} to {@code values[i]}.
   *
   * @throws IllegalStateException if KVM accepted fewer MSRs than given
   */
  public void setMsrs(int[] indices, long[] values) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment msrs = arena.allocate(8 + 16L * indices.length, 8);
      msrs.set(ValueLayout.JAVA_INT, 0, indices.length);
      for (int i = 0; i < indices.length; i++) {
        msrs.set(ValueLayout.JAVA_INT, 8 + 16L * i, indices[i]);
        msrs.set(ValueLayout.JAVA_LONG, 8 + 16L * i + 8, values[i]);
      }
      int set = Libc.ioctl(fd, Kvm.KVM_SET_MSRS, msrs, "KVM_SET_MSRS");
      if (set != indices.length) {
        throw new IllegalStateException(
            "KVM_SET_MSRS set " + set + " of " + indices.length + " MSRs; first refused: 0x"
                + Integer.toHexString(indices[set]));
      }
    }
  }

  /** {@code KVM_GET_MSRS}: the values of the given MSRs. */
  public long[] getMsrs(int... indices) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment msrs = arena.allocate(8 + 16L * indices.length, 8);
      msrs.set(ValueLayout.JAVA_INT, 0, indices.length);
      for (int i = 0; i < indices.length; i++) {
        msrs.set(ValueLayout.JAVA_INT, 8 + 16L * i, indices[i]);
      }
      Libc.ioctl(fd, Kvm.KVM_GET_MSRS, msrs, "KVM_GET_MSRS");
      long[] values = new long[indices.length];
      for (int i = 0; i < indices.length; i++) {
        values[i] = msrs.get(ValueLayout.JAVA_LONG, 8 + 16L * i + 8);
      }
      return values;
    }
  }

  /** {@code KVM_SET_CPUID2} from a {@code struct kvm_cpuid2}. */
  public void setCpuid2(MemorySegment cpuid) {
    Libc.ioctl(fd, Kvm.KVM_SET_CPUID2, cpuid, "KVM_SET_CPUID2");
  }

  /**
   * {@code KVM_SET_SIGNAL_MASK}: the signal mask in force while this vCPU runs ({@code
   * KVM_RUN} returns EINTR when a signal unblocked by it arrives).
   *
   * @param kernelMask the kernel's 64-bit signal mask (bit {@code n-1} for signal {@code n})
   */
  public void setSignalMask(long kernelMask) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment m = arena.allocate(12, 8);
      m.set(ValueLayout.JAVA_INT, 0, 8);
      m.set(ValueLayout.JAVA_LONG_UNALIGNED, 4, kernelMask);
      Libc.ioctl(fd, Kvm.KVM_SET_SIGNAL_MASK, m, "KVM_SET_SIGNAL_MASK");
    }
  }

  /** {@code KVM_GET_XSAVE} into a 4096-byte {@code struct kvm_xsave}. */
  public void getXsave(MemorySegment xsave) {
    Libc.ioctl(fd, Kvm.KVM_GET_XSAVE, xsave, "KVM_GET_XSAVE");
  }

  /** {@code KVM_SET_XSAVE} from a 4096-byte {@code struct kvm_xsave}. */
  public void setXsave(MemorySegment xsave) {
    Libc.ioctl(fd, Kvm.KVM_SET_XSAVE, xsave, "KVM_SET_XSAVE");
  }

  /** Unmaps {@code kvm_run} and closes the descriptor; idempotent. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      runArena.close();
      Libc.close(fd);
    }
  }
}
