package org.vmspace.kvm.guest;

import java.io.ByteArrayOutputStream;

/**
 * A minimal x86-64 machine-code emitter for the guest stubs: only the handful of instructions
 * the stubs use, each method one instruction with its encoding spelled out. Not thread-safe.
 */
public final class X86Code {
  private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

  /** The bytes emitted so far. */
  public byte[] toByteArray() {
    return bytes.toByteArray();
  }

  /** The number of bytes emitted so far (the offset of the next instruction). */
  public int size() {
    return bytes.size();
  }

  private X86Code emit(int... b) {
    for (int x : b) {
      bytes.write(x);
    }
    return this;
  }

  private X86Code imm32(int v) {
    return emit(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }

  private X86Code imm64(long v) {
    for (int i = 0; i < 8; i++) {
      bytes.write((int) (v >>> (8 * i)) & 0xff);
    }
    return this;
  }

  /** {@code out %al, $port}: E6 ib (2 bytes). */
  public X86Code outAlImm8(int port) {
    if (port < 0 || port > 0xff) {
      throw new IllegalArgumentException("port out of imm8 range: " + port);
    }
    return emit(0xE6, port);
  }

  /** {@code hlt}: F4. */
  public X86Code hlt() {
    return emit(0xF4);
  }

  /** {@code jmp .+2+rel}: EB cb. */
  public X86Code jmpRel8(int rel) {
    return emit(0xEB, rel & 0xff);
  }

  /** {@code movabs $imm64, %rdi}: REX.W B8+7 io. */
  public X86Code movabsRdi(long imm) {
    return emit(0x48, 0xBF).imm64(imm);
  }

  /** {@code movabs $imm64, %rax}: REX.W B8+0 io. */
  public X86Code movabsRax(long imm) {
    return emit(0x48, 0xB8).imm64(imm);
  }

  /** {@code mov %rax, disp32(%rdi)}: REX.W 89 /r, ModRM 10 000 111. */
  public X86Code movRaxToDisp32Rdi(int disp) {
    return emit(0x48, 0x89, 0x87).imm32(disp);
  }

  /** {@code movq $imm32 (sign-extended), disp32(%rdi)}: REX.W C7 /0 id, ModRM 10 000 111. */
  public X86Code movqImm32ToDisp32Rdi(int disp, int imm) {
    return emit(0x48, 0xC7, 0x87).imm32(disp).imm32(imm);
  }
}
