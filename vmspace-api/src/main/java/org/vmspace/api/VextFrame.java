package org.vmspace.api;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * DragonFly's {@code struct vextframe}: the guest thread's TLS segments, 32 bytes — the fs base
 * and size, then the gs base and size — little-endian.
 *
 * <p>{@code ctl(RUN)} loads the fs and gs bases into the guest before it runs (this is how
 * {@code arch_prctl(ARCH_SET_FS)} takes effect). The sizes are carried for DragonFly
 * compatibility and not interpreted.
 *
 * <p>A vext frame also stands for the guest <em>thread</em>: the service keeps the guest's
 * floating-point and vector register state (x87, SSE, AVX) with the vext frame it was last run
 * with, and switches it when a run uses a different vext frame. Use one vext frame per guest
 * thread; running two guest threads with the same vext frame makes them share that state.
 *
 * <p>Mutable and not thread-safe, like {@link TrapFrame}.
 */
public final class VextFrame {
  /** The size of the frame in bytes. */
  public static final int SIZE = 32;

  private static final ValueLayout.OfLong LONG =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final long FS_BASE = 0;
  private static final long FS_SIZE = 8;
  private static final long GS_BASE = 16;
  private static final long GS_SIZE = 24;

  private final MemorySegment segment;

  /** A new zeroed frame on the Java heap. */
  public VextFrame() {
    this(MemorySegment.ofArray(new long[SIZE / Long.BYTES]));
  }

  private VextFrame(MemorySegment segment) {
    this.segment = segment;
  }

  /**
   * A frame that reads and writes the first {@value #SIZE} bytes of {@code memory}.
   *
   * @throws IllegalArgumentException if the segment is smaller than {@value #SIZE} bytes or
   *     read-only
   */
  public static VextFrame wrap(MemorySegment memory) {
    Objects.requireNonNull(memory, "memory");
    if (memory.byteSize() < SIZE || memory.isReadOnly()) {
      throw new IllegalArgumentException(
          "a vext frame needs " + SIZE + " writable bytes, got " + memory);
    }
    return new VextFrame(memory.asSlice(0, SIZE));
  }

  /** The {@value #SIZE} bytes behind this frame. */
  public MemorySegment segment() {
    return segment;
  }

  /** The fs segment base (the guest's thread pointer on x86-64 Linux). */
  public long fsBase() {
    return segment.get(LONG, FS_BASE);
  }

  /** Sets the fs base and returns this frame. */
  public VextFrame fsBase(long value) {
    segment.set(LONG, FS_BASE, value);
    return this;
  }

  /** The fs segment size (carried, not interpreted). */
  public long fsSize() {
    return segment.get(LONG, FS_SIZE);
  }

  /** Sets the fs size and returns this frame. */
  public VextFrame fsSize(long value) {
    segment.set(LONG, FS_SIZE, value);
    return this;
  }

  /** The gs segment base. */
  public long gsBase() {
    return segment.get(LONG, GS_BASE);
  }

  /** Sets the gs base and returns this frame. */
  public VextFrame gsBase(long value) {
    segment.set(LONG, GS_BASE, value);
    return this;
  }

  /** The gs segment size (carried, not interpreted). */
  public long gsSize() {
    return segment.get(LONG, GS_SIZE);
  }

  /** Sets the gs size and returns this frame. */
  public VextFrame gsSize(long value) {
    segment.set(LONG, GS_SIZE, value);
    return this;
  }

  /** Frames are equal when their 32 bytes are equal (the register state is not compared). */
  @Override
  public boolean equals(Object o) {
    return o instanceof VextFrame other
        && MemorySegment.mismatch(segment, 0, SIZE, other.segment, 0, SIZE) == -1;
  }

  @Override
  public int hashCode() {
    return Long.hashCode(fsBase()) * 31 + Long.hashCode(gsBase());
  }

  @Override
  public String toString() {
    return "VextFrame[fs=0x" + Long.toHexString(fsBase()) + "/0x" + Long.toHexString(fsSize())
        + " gs=0x" + Long.toHexString(gsBase()) + "/0x" + Long.toHexString(gsSize()) + "]";
  }
}
