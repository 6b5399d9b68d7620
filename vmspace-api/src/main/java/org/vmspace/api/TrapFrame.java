package org.vmspace.api;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * DragonFly's x86_64 {@code struct trapframe}: 25 eight-byte fields, 200 bytes, in the order
 * {@code rdi rsi rdx rcx r8 r9 rax rbx rbp r10 r11 r12 r13 r14 r15 xflags trapno addr flags err
 * rip cs rflags rsp ss}, little-endian.
 *
 * <p>The frame is backed by a {@link MemorySegment} with exactly that byte layout ({@link
 * #LAYOUT}), so it can be exchanged with native code and files: {@link #wrap(MemorySegment)}
 * views existing memory, {@link #segment()} exposes the bytes.
 *
 * <p>This is the API's one deliberately mutable object: {@code ctl(RUN)} reads the guest's
 * registers from it and writes them back when the guest traps. It is not thread-safe; a frame
 * belongs to the thread that runs it.
 */
public final class TrapFrame {
  /** The size of the frame in bytes. */
  public static final int SIZE = 200;

  private static final ValueLayout.OfLong LONG =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /** The fields, in DragonFly's order, each with its byte offset in the frame. */
  public enum Field {
    /** The guest's {@code rdi}. */
    RDI(0),
    /** The guest's {@code rsi}. */
    RSI(8),
    /** The guest's {@code rdx}. */
    RDX(16),
    /** On a syscall trap it holds the guest's {@code r10}, the fourth argument (DragonFly convention). */
    RCX(24),
    /** The guest's {@code r8}. */
    R8(32),
    /** The guest's {@code r9}. */
    R9(40),
    /** The guest's {@code rax}. */
    RAX(48),
    /** The guest's {@code rbx}. */
    RBX(56),
    /** The guest's {@code rbp}. */
    RBP(64),
    /** The guest's {@code r10}. */
    R10(72),
    /** The guest's {@code r11}. */
    R11(80),
    /** The guest's {@code r12}. */
    R12(88),
    /** The guest's {@code r13}. */
    R13(96),
    /** The guest's {@code r14}. */
    R14(104),
    /** The guest's {@code r15}. */
    R15(112),
    /** DragonFly's software flags word; carried, never interpreted by the service. */
    XFLAGS(120),
    /** Why the run returned: a {@link Trap} code, or 0 when interrupted or timed out. */
    TRAPNO(128),
    /** The faulting address of a {@link Trap#T_PAGEFLT}; 0 otherwise. */
    ADDR(136),
    /** DragonFly's frame flags word; carried, never interpreted by the service. */
    FLAGS(144),
    /** The hardware error code of the trap; for {@link Trap#T_FAST_SYSCALL} the instruction length 2. */
    ERR(152),
    /** The guest instruction pointer: where the guest resumes on the next run. */
    RIP(160),
    /** The code selector; forced to the user selector on entry. */
    CS(168),
    /** The guest flags; masked on entry (IOPL and VM cleared, IF and bit 1 set). */
    RFLAGS(176),
    /** The guest stack pointer. */
    RSP(184),
    /** The stack selector; forced to the user selector on entry. */
    SS(192);

    private final long offset;

    Field(long offset) {
      this.offset = offset;
    }

    /** The byte offset of this field in the frame. */
    public long offset() {
      return offset;
    }
  }

  /** The byte layout of the frame: 25 little-endian 64-bit fields named as in DragonFly. */
  public static final MemoryLayout LAYOUT = buildLayout();

  /** Whether a heap frame's words may be read as Java longs: the layout is little-endian. */
  private static final boolean WORDS_ARE_FIELDS = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

  private final MemorySegment segment;
  /**
   * The array behind {@link #segment} for a heap frame on a little-endian host, else null: the
   * accessors use it directly, which costs far less than a var-handle access where the caller
   * is not compiled by C2. Both views are the same memory.
   */
  private final long[] words;

  /** A new zeroed frame on the Java heap. */
  public TrapFrame() {
    this(new long[SIZE / Long.BYTES]);
  }

  private TrapFrame(long[] words) {
    this.segment = MemorySegment.ofArray(words);
    this.words = WORDS_ARE_FIELDS ? words : null;
  }

  private TrapFrame(MemorySegment segment) {
    this.segment = segment;
    this.words = null;
  }

  /**
   * A frame that reads and writes the first {@value #SIZE} bytes of {@code memory}.
   *
   * @throws IllegalArgumentException if the segment is smaller than {@value #SIZE} bytes or
   *     read-only
   */
  public static TrapFrame wrap(MemorySegment memory) {
    Objects.requireNonNull(memory, "memory");
    if (memory.byteSize() < SIZE) {
      throw new IllegalArgumentException(
          "a trap frame needs " + SIZE + " bytes, the segment has " + memory.byteSize());
    }
    if (memory.isReadOnly()) {
      throw new IllegalArgumentException("a trap frame needs writable memory");
    }
    return new TrapFrame(memory.asSlice(0, SIZE));
  }

  private static MemoryLayout buildLayout() {
    MemoryLayout[] members = new MemoryLayout[Field.values().length];
    for (Field f : Field.values()) {
      members[f.ordinal()] = LONG.withName(f.name().toLowerCase(java.util.Locale.ROOT));
    }
    return MemoryLayout.structLayout(members).withName("trapframe");
  }

  /** The {@value #SIZE} bytes behind this frame, in DragonFly's layout. */
  public MemorySegment segment() {
    return segment;
  }

  /** Returns the value of a field. */
  public long get(Field field) {
    return words != null ? words[(int) (field.offset >>> 3)] : segment.get(LONG, field.offset);
  }

  /** Sets a field and returns this frame. */
  public TrapFrame set(Field field, long value) {
    if (words != null) {
      words[(int) (field.offset >>> 3)] = value;
    } else {
      segment.set(LONG, field.offset, value);
    }
    return this;
  }

  /** A new heap frame with the same contents. */
  public TrapFrame copy() {
    TrapFrame copy = new TrapFrame();
    MemorySegment.copy(segment, 0, copy.segment, 0, SIZE);
    return copy;
  }

  /** Overwrites this frame with the contents of {@code other} and returns this frame. */
  public TrapFrame copyFrom(TrapFrame other) {
    MemorySegment.copy(other.segment, 0, segment, 0, SIZE);
    return this;
  }

  /** Sets every field to zero and returns this frame. */
  public TrapFrame clear() {
    segment.fill((byte) 0);
    return this;
  }

  /** Returns {@link Field#RDI}. */
  public long rdi() {
    return get(Field.RDI);
  }

  /** Sets {@link Field#RDI} and returns this frame. */
  public TrapFrame rdi(long value) {
    return set(Field.RDI, value);
  }

  /** Returns {@link Field#RSI}. */
  public long rsi() {
    return get(Field.RSI);
  }

  /** Sets {@link Field#RSI} and returns this frame. */
  public TrapFrame rsi(long value) {
    return set(Field.RSI, value);
  }

  /** Returns {@link Field#RDX}. */
  public long rdx() {
    return get(Field.RDX);
  }

  /** Sets {@link Field#RDX} and returns this frame. */
  public TrapFrame rdx(long value) {
    return set(Field.RDX, value);
  }

  /** Returns {@link Field#RCX}. */
  public long rcx() {
    return get(Field.RCX);
  }

  /** Sets {@link Field#RCX} and returns this frame. */
  public TrapFrame rcx(long value) {
    return set(Field.RCX, value);
  }

  /** Returns {@link Field#R8}. */
  public long r8() {
    return get(Field.R8);
  }

  /** Sets {@link Field#R8} and returns this frame. */
  public TrapFrame r8(long value) {
    return set(Field.R8, value);
  }

  /** Returns {@link Field#R9}. */
  public long r9() {
    return get(Field.R9);
  }

  /** Sets {@link Field#R9} and returns this frame. */
  public TrapFrame r9(long value) {
    return set(Field.R9, value);
  }

  /** Returns {@link Field#RAX}. */
  public long rax() {
    return get(Field.RAX);
  }

  /** Sets {@link Field#RAX} and returns this frame. */
  public TrapFrame rax(long value) {
    return set(Field.RAX, value);
  }

  /** Returns {@link Field#RBX}. */
  public long rbx() {
    return get(Field.RBX);
  }

  /** Sets {@link Field#RBX} and returns this frame. */
  public TrapFrame rbx(long value) {
    return set(Field.RBX, value);
  }

  /** Returns {@link Field#RBP}. */
  public long rbp() {
    return get(Field.RBP);
  }

  /** Sets {@link Field#RBP} and returns this frame. */
  public TrapFrame rbp(long value) {
    return set(Field.RBP, value);
  }

  /** Returns {@link Field#R10}. */
  public long r10() {
    return get(Field.R10);
  }

  /** Sets {@link Field#R10} and returns this frame. */
  public TrapFrame r10(long value) {
    return set(Field.R10, value);
  }

  /** Returns {@link Field#R11}. */
  public long r11() {
    return get(Field.R11);
  }

  /** Sets {@link Field#R11} and returns this frame. */
  public TrapFrame r11(long value) {
    return set(Field.R11, value);
  }

  /** Returns {@link Field#R12}. */
  public long r12() {
    return get(Field.R12);
  }

  /** Sets {@link Field#R12} and returns this frame. */
  public TrapFrame r12(long value) {
    return set(Field.R12, value);
  }

  /** Returns {@link Field#R13}. */
  public long r13() {
    return get(Field.R13);
  }

  /** Sets {@link Field#R13} and returns this frame. */
  public TrapFrame r13(long value) {
    return set(Field.R13, value);
  }

  /** Returns {@link Field#R14}. */
  public long r14() {
    return get(Field.R14);
  }

  /** Sets {@link Field#R14} and returns this frame. */
  public TrapFrame r14(long value) {
    return set(Field.R14, value);
  }

  /** Returns {@link Field#R15}. */
  public long r15() {
    return get(Field.R15);
  }

  /** Sets {@link Field#R15} and returns this frame. */
  public TrapFrame r15(long value) {
    return set(Field.R15, value);
  }

  /** Returns {@link Field#XFLAGS}. */
  public long xflags() {
    return get(Field.XFLAGS);
  }

  /** Sets {@link Field#XFLAGS} and returns this frame. */
  public TrapFrame xflags(long value) {
    return set(Field.XFLAGS, value);
  }

  /** Returns {@link Field#TRAPNO}. */
  public long trapno() {
    return get(Field.TRAPNO);
  }

  /** Sets {@link Field#TRAPNO} and returns this frame. */
  public TrapFrame trapno(long value) {
    return set(Field.TRAPNO, value);
  }

  /** Returns {@link Field#ADDR}. */
  public long addr() {
    return get(Field.ADDR);
  }

  /** Sets {@link Field#ADDR} and returns this frame. */
  public TrapFrame addr(long value) {
    return set(Field.ADDR, value);
  }

  /** Returns {@link Field#FLAGS}. */
  public long flags() {
    return get(Field.FLAGS);
  }

  /** Sets {@link Field#FLAGS} and returns this frame. */
  public TrapFrame flags(long value) {
    return set(Field.FLAGS, value);
  }

  /** Returns {@link Field#ERR}. */
  public long err() {
    return get(Field.ERR);
  }

  /** Sets {@link Field#ERR} and returns this frame. */
  public TrapFrame err(long value) {
    return set(Field.ERR, value);
  }

  /** Returns {@link Field#RIP}. */
  public long rip() {
    return get(Field.RIP);
  }

  /** Sets {@link Field#RIP} and returns this frame. */
  public TrapFrame rip(long value) {
    return set(Field.RIP, value);
  }

  /** Returns {@link Field#CS}. */
  public long cs() {
    return get(Field.CS);
  }

  /** Sets {@link Field#CS} and returns this frame. */
  public TrapFrame cs(long value) {
    return set(Field.CS, value);
  }

  /** Returns {@link Field#RFLAGS}. */
  public long rflags() {
    return get(Field.RFLAGS);
  }

  /** Sets {@link Field#RFLAGS} and returns this frame. */
  public TrapFrame rflags(long value) {
    return set(Field.RFLAGS, value);
  }

  /** Returns {@link Field#RSP}. */
  public long rsp() {
    return get(Field.RSP);
  }

  /** Sets {@link Field#RSP} and returns this frame. */
  public TrapFrame rsp(long value) {
    return set(Field.RSP, value);
  }

  /** Returns {@link Field#SS}. */
  public long ss() {
    return get(Field.SS);
  }

  /** Sets {@link Field#SS} and returns this frame. */
  public TrapFrame ss(long value) {
    return set(Field.SS, value);
  }

  /** Frames are equal when all 200 bytes are equal. */
  @Override
  public boolean equals(Object o) {
    return o instanceof TrapFrame other
        && MemorySegment.mismatch(segment, 0, SIZE, other.segment, 0, SIZE) == -1;
  }

  @Override
  public int hashCode() {
    int h = 1;
    for (Field f : Field.values()) {
      h = 31 * h + Long.hashCode(get(f));
    }
    return h;
  }

  /**
   * Every field in hexadecimal with the trap named, e.g. {@code TrapFrame[trapno=T_PAGEFLT
   * rip=0x401000 ...]}: meant to be read in a test failure.
   */
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("TrapFrame[trapno=").append(Trap.name(trapno()));
    for (Field f : Field.values()) {
      if (f != Field.TRAPNO) {
        sb.append(' ').append(f.name().toLowerCase(java.util.Locale.ROOT))
            .append("=0x").append(Long.toHexString(get(f)));
      }
    }
    return sb.append(']').toString();
  }
}
