package org.vmspace.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class TrapFrameTest {
  private static final String DRAGONFLY_ORDER =
      "rdi rsi rdx rcx r8 r9 rax rbx rbp r10 r11 r12 r13 r14 r15 xflags trapno addr flags err "
          + "rip cs rflags rsp ss";

  @Test
  void layoutIsDragonFlysTwoHundredBytes() {
    assertThat(TrapFrame.LAYOUT.byteSize()).isEqualTo(200);
    String[] names = DRAGONFLY_ORDER.split(" ");
    assertThat(TrapFrame.Field.values()).hasSize(25);
    for (int i = 0; i < names.length; i++) {
      TrapFrame.Field f = TrapFrame.Field.values()[i];
      assertThat(f.name().toLowerCase()).isEqualTo(names[i]);
      assertThat(f.offset()).isEqualTo(8L * i);
      assertThat(TrapFrame.LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement(names[i])))
          .isEqualTo(8L * i);
    }
  }

  @Test
  void fieldsAreLittleEndianAtTheirOffsets() {
    TrapFrame f = new TrapFrame();
    long v = 1;
    for (TrapFrame.Field field : TrapFrame.Field.values()) {
      f.set(field, v * 0x0102030405060708L);
      v++;
    }
    v = 1;
    for (TrapFrame.Field field : TrapFrame.Field.values()) {
      long raw = f.segment().get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), field.offset());
      assertThat(raw).isEqualTo(v * 0x0102030405060708L);
      v++;
    }
    assertThat(f.segment().get(ValueLayout.JAVA_BYTE, TrapFrame.Field.RIP.offset())).isEqualTo((byte) (21 * 8));
  }

  @Test
  void storesThroughTheSegmentAreWhatTheAccessorsRead() {
    for (TrapFrame f : new TrapFrame[] {new TrapFrame(), TrapFrame.wrap(java.lang.foreign.Arena.ofAuto().allocate(TrapFrame.SIZE))}) {
      long v = 1;
      for (TrapFrame.Field field : TrapFrame.Field.values()) {
        f.segment().set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), field.offset(), -v * 0x1111);
        v++;
      }
      v = 1;
      for (TrapFrame.Field field : TrapFrame.Field.values()) {
        assertThat(f.get(field)).as(field.name()).isEqualTo(-v * 0x1111);
        v++;
      }
      assertThat(f.copy().get(TrapFrame.Field.SS)).isEqualTo(f.get(TrapFrame.Field.SS));
    }
  }

  @Test
  void namedAccessorsMatchFields() {
    TrapFrame f = new TrapFrame().rip(0x401000).rsp(0x7fff0000).rax(60).rcx(3).trapno(Trap.T_PAGEFLT);
    assertThat(f.get(TrapFrame.Field.RIP)).isEqualTo(0x401000);
    assertThat(f.get(TrapFrame.Field.RSP)).isEqualTo(0x7fff0000);
    assertThat(f.get(TrapFrame.Field.RAX)).isEqualTo(60);
    assertThat(f.get(TrapFrame.Field.RCX)).isEqualTo(3);
    assertThat(f.toString()).contains("trapno=T_PAGEFLT").contains("rip=0x401000");
  }

  @Test
  void wrapSharesNativeMemory() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment mem = arena.allocate(256, 1).asSlice(3);
      TrapFrame f = TrapFrame.wrap(mem);
      f.ss(0x2b);
      assertThat(mem.get(ValueLayout.JAVA_LONG_UNALIGNED, 192)).isEqualTo(0x2b);
      assertThat(f.copy()).isEqualTo(f).isNotSameAs(f);
      assertThat(f.copy().hashCode()).isEqualTo(f.hashCode());
    }
    assertThatThrownBy(() -> TrapFrame.wrap(MemorySegment.ofArray(new byte[199])))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> TrapFrame.wrap(MemorySegment.ofArray(new byte[200]).asReadOnly()))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void copyFromAndClear() {
    TrapFrame a = new TrapFrame().rdi(1).ss(2);
    TrapFrame b = new TrapFrame().copyFrom(a);
    assertThat(b).isEqualTo(a);
    b.clear();
    assertThat(b).isEqualTo(new TrapFrame()).isNotEqualTo(a);
  }

  @Test
  void vextFrameLayout() {
    VextFrame v = new VextFrame().fsBase(0x1000).fsSize(1).gsBase(0x2000).gsSize(2);
    ValueLayout.OfLong le = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    assertThat(v.segment().byteSize()).isEqualTo(32);
    assertThat(v.segment().get(le, 0)).isEqualTo(0x1000);
    assertThat(v.segment().get(le, 8)).isEqualTo(1);
    assertThat(v.segment().get(le, 16)).isEqualTo(0x2000);
    assertThat(v.segment().get(le, 24)).isEqualTo(2);
    assertThat(VextFrame.wrap(v.segment())).isEqualTo(v);
  }
}
