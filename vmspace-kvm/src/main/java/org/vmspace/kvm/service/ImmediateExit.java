package org.vmspace.kvm.service;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.kvm.ioctl.Kvm;
import org.vmspace.kvm.ioctl.KvmRun;
import org.vmspace.kvm.linux.Errnos;
import org.vmspace.kvm.vcpu.Vcpu;

/**
 * Completes an exit's pending instruction inside KVM without running guest code: a
 * {@code KVM_RUN} with {@code immediate_exit} set, which KVM answers by finishing the
 * instruction it stopped at (an {@code out}, an {@code in}, an MMIO access) and returning
 * {@code EINTR} before the guest runs.
 *
 * <p>Guarantees: {@code immediate_exit} is clear again on every return, thrown or not; a vCPU
 * whose completion fails is marked dead, so it is never entered again.
 */
final class ImmediateExit {
  private ImmediateExit() {}

  /**
   * Lets KVM finish an I/O or MMIO exit without running guest code ({@code immediate_exit}),
   * with zeroed data, so the instruction can neither complete later (it would overwrite the
   * registers of the next run) nor read bytes an earlier exit left.
   */
  static void finishPendingIo(Vcpu v, KvmRun run) {
    MemorySegment s = run.segment();
    if (run.exitReason() == Kvm.KVM_EXIT_IO) {
      long offset = s.get(ValueLayout.JAVA_LONG, KvmRun.IO_DATA_OFFSET);
      long bytes = (long) run.ioSize() * run.ioCount();
      if (offset > 0 && bytes > 0 && offset + bytes <= s.byteSize()) {
        s.asSlice(offset, bytes).fill((byte) 0);
      }
    } else {
      s.asSlice(KvmRun.MMIO_PHYS_ADDR + 8, 8).fill((byte) 0);
    }
    run.dirtyRegs(0);
    run.immediateExit(true);
    try {
      int rc = v.enter();
      if (rc != -Errnos.EINTR && rc != 0) {
        v.markDead();
      }
    } finally {
      run.immediateExit(false);
    }
  }

  /**
   * Lets KVM complete the last stub exit's {@code out} without running guest code ({@code
   * immediate_exit}); any register changes still pending for KVM are applied by it as well.
   */
  static void consumeStubExit(Vcpu v) {
    KvmRun run = v.kvmRun();
    run.immediateExit(true);
    try {
      int rc = v.enter();
      if (rc != -Errnos.EINTR && rc != 0) {
        v.markDead();
        throw new IllegalStateException("KVM_RUN (completing a stub exit) failed: " + Errnos.name(-rc));
      }
    } finally {
      run.immediateExit(false);
    }
  }
}
