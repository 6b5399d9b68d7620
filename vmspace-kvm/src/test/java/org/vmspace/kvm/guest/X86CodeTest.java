package org.vmspace.kvm.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** The emitter's encodings, checked against the bytes an assembler gives for each instruction. */
class X86CodeTest {
  private static String hex(X86Code code) {
    return HexFormat.of().formatHex(code.toByteArray());
  }

  @Test
  void eachInstructionHasItsEncoding() {
    assertThat(hex(new X86Code().outAlImm8(0x13))).isEqualTo("e613");
    assertThat(hex(new X86Code().hlt())).isEqualTo("f4");
    assertThat(hex(new X86Code().jmpRel8(-3))).isEqualTo("ebfd");
    assertThat(hex(new X86Code().movabsRdi(0xffff_8880_0012_3000L))).isEqualTo("48bf003012008088ffff");
    assertThat(hex(new X86Code().movabsRax(0x8000_0000_0000_0027L))).isEqualTo("48b82700000000000080");
    assertThat(hex(new X86Code().movRaxToDisp32Rdi(0xff8))).isEqualTo("488987f80f0000");
    assertThat(hex(new X86Code().movqImm32ToDisp32Rdi(0x10, -1))).isEqualTo("48c78710000000ffffffff");
  }

  @Test
  void theBufferGrowsPastItsFirstSizeAndClearKeepsNothing() {
    X86Code code = new X86Code();
    StringBuilder expected = new StringBuilder();
    for (int i = 0; i < 1000; i++) {
      code.movqImm32ToDisp32Rdi(8 * i, i);
      expected.append(HexFormat.of().formatHex(new X86Code().movqImm32ToDisp32Rdi(8 * i, i).toByteArray()));
    }
    assertThat(code.size()).isEqualTo(11_000);
    assertThat(hex(code)).isEqualTo(expected.toString());
    assertThat(code.buffer().length).isGreaterThanOrEqualTo(11_000);
    code.clear().hlt();
    assertThat(code.size()).isEqualTo(1);
    assertThat(hex(code)).isEqualTo("f4");
  }
}
