package org.vmspace.kvm.guest;

import java.util.Arrays;

/**
 * A minimal x86-64 machine-code emitter for the guest stubs: only the handful of instructions
 * the stubs use, each method one instruction with its encoding spelled out. Not thread-safe.
 * The revocation path emits one instruction per cleared page-table entry, so the buffer is a
 * plain array that grows by doubling, with no per-instruction allocation.
 */
public final class X86Code {
  private byte[] bytes = new byte[64];
  private int size;

  /** The bytes emitted so far. */
  public byte[] toByteArray() {
    return Arrays.copyOf(bytes, size);
  }

  /** The number of bytes emitted so far (the offset of the next instruction). */
  public int size() {
    return size;
  }

  /** Forgets every byte emitted, keeping the buffer for the next code. */
  public X86Code clear() {
    size = 0;
    return this;
  }

  /** The buffer, valid up to {@link #size()} until the next emit; not a copy. */
  public byte[] buffer() {
    return bytes;
  }

  private void room(int n) {
    if (size + n > bytes.length) {
      bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, size + n));
    }
  }

  private X86Code emit(int b0) {
    room(1);
    bytes[size++] = (byte) b0;
    return this;
  }

  private X86Code emit(int b0, int b1) {
    room(2);
    bytes[size++] = (byte) b0;
    bytes[size++] = (byte) b1;
    return this;
  }

  private X86Code emit(int b0, int b1, int b2) {
    room(3);
    bytes[size++] = (byte) b0;
    bytes[size++] = (byte) b1;
    bytes[size++] = (byte) b2;
    return this;
  }

  private X86Code imm32(int v) {
    room(4);
    for (int i = 0; i < 4; i++) {
      bytes[size++] = (byte) (v >>> (8 * i));
    }
    return this;
  }

  private X86Code imm64(long v) {
    room(8);
    for (int i = 0; i < 8; i++) {
      bytes[size++] = (byte) (v >>> (8 * i));
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
