package org.vmspace.kvm.ioctl;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The {@code struct kvm_run} a vCPU shares with the host through {@code mmap}: the exit reason
 * and its details, {@code immediate_exit}, and the sync-regs area through which registers move
 * without {@code KVM_GET_REGS}/{@code KVM_SET_REGS} ioctls.
 *
 * <p>The sync areas start at {@link #SYNC_REGS} ({@code struct kvm_regs}) and {@link
 * #SYNC_SREGS} ({@code struct kvm_sregs}); read and write them with {@link KvmRegs} and {@link
 * KvmSregs} using these bases.
 */
public final class KvmRun {
  public static final long IMMEDIATE_EXIT = 1;
  public static final long EXIT_REASON = 8;
  public static final long IO_DIRECTION = 32;
  public static final long IO_SIZE = 33;
  public static final long IO_PORT = 34;
  public static final long IO_COUNT = 36;
  public static final long IO_DATA_OFFSET = 40;
  public static final long MMIO_PHYS_ADDR = 32;
  public static final long MMIO_LEN = 48;
  public static final long MMIO_IS_WRITE = 52;
  public static final long INTERNAL_SUBERROR = 32;
  public static final long FAIL_ENTRY_REASON = 32;
  public static final long VALID_REGS = 288;
  public static final long DIRTY_REGS = 296;
  /** Offset of the sync copy of {@code struct kvm_regs}. */
  public static final long SYNC_REGS = 304;
  /** Offset of the sync copy of {@code struct kvm_sregs}. */
  public static final long SYNC_SREGS = 448;

  private final MemorySegment run;

  /** Wraps the vCPU's mapping of {@code kvm_run}. */
  public KvmRun(MemorySegment run) {
    this.run = run;
  }

  /** The mapping itself, for the register accessors. */
  public MemorySegment segment() {
    return run;
  }

  public int exitReason() {
    return run.get(ValueLayout.JAVA_INT, EXIT_REASON);
  }

  public void immediateExit(boolean on) {
    run.set(ValueLayout.JAVA_BYTE, IMMEDIATE_EXIT, (byte) (on ? 1 : 0));
  }

  public boolean immediateExit() {
    return run.get(ValueLayout.JAVA_BYTE, IMMEDIATE_EXIT) != 0;
  }

  public int ioDirection() {
    return run.get(ValueLayout.JAVA_BYTE, IO_DIRECTION);
  }

  public int ioSize() {
    return run.get(ValueLayout.JAVA_BYTE, IO_SIZE);
  }

  public int ioPort() {
    return Short.toUnsignedInt(run.get(ValueLayout.JAVA_SHORT, IO_PORT));
  }

  public int ioCount() {
    return run.get(ValueLayout.JAVA_INT, IO_COUNT);
  }

  public long mmioPhysAddr() {
    return run.get(ValueLayout.JAVA_LONG, MMIO_PHYS_ADDR);
  }

  public boolean mmioIsWrite() {
    return run.get(ValueLayout.JAVA_BYTE, MMIO_IS_WRITE) != 0;
  }

  public int internalSuberror() {
    return run.get(ValueLayout.JAVA_INT, INTERNAL_SUBERROR);
  }

  public long failEntryReason() {
    return run.get(ValueLayout.JAVA_LONG, FAIL_ENTRY_REASON);
  }

  public void validRegs(long mask) {
    run.set(ValueLayout.JAVA_LONG, VALID_REGS, mask);
  }

  public void dirtyRegs(long mask) {
    run.set(ValueLayout.JAVA_LONG, DIRTY_REGS, mask);
  }

  public long dirtyRegs() {
    return run.get(ValueLayout.JAVA_LONG, DIRTY_REGS);
  }

  /** The number of 64-bit registers in {@code struct kvm_regs}. */
  public static final int REGS_COUNT = 18;

  /**
   * Copies the sync copy of {@code struct kvm_regs} into {@code dst} (18 longs, in {@link
   * KvmRegs} order: index = offset / 8). One bounds and liveness check instead of eighteen.
   */
  public void readRegs(long[] dst) {
    MemorySegment.copy(run, ValueLayout.JAVA_LONG, SYNC_REGS, dst, 0, REGS_COUNT);
  }

  /** Copies {@code src} (18 longs) into the sync copy of {@code struct kvm_regs}. */
  public void writeRegs(long[] src) {
    MemorySegment.copy(src, 0, run, ValueLayout.JAVA_LONG, SYNC_REGS, REGS_COUNT);
  }

  /** A general register from the sync area ({@link KvmRegs} offset). */
  public long reg(long offset) {
    return run.get(ValueLayout.JAVA_LONG, SYNC_REGS + offset);
  }

  /** Sets a general register in the sync area; mark {@link Kvm#KVM_SYNC_X86_REGS} dirty. */
  public void reg(long offset, long value) {
    run.set(ValueLayout.JAVA_LONG, SYNC_REGS + offset, value);
  }

  /** A 64-bit field of the sync sregs ({@link KvmSregs} offset). */
  public long sreg(long offset) {
    return run.get(ValueLayout.JAVA_LONG, SYNC_SREGS + offset);
  }

  /** Sets a 64-bit field of the sync sregs; mark {@link Kvm#KVM_SYNC_X86_SREGS} dirty. */
  public void sreg(long offset, long value) {
    run.set(ValueLayout.JAVA_LONG, SYNC_SREGS + offset, value);
  }
}
