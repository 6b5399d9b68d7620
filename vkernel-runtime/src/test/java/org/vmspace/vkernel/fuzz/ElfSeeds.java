package org.vmspace.vkernel.fuzz;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The valid ELF files the exec fuzzer starts from, built byte by byte: each is the smallest file
 * of its kind that Linux loads (a static ET_EXEC, one with a data segment and bss, a static-pie
 * ET_DYN with PT_PHDR, an interpreter, and two dynamically linked programs naming it), and each
 * runs {@code exit(0)}. Only the JDK is used, so {@code java ElfSeeds.java DIR} writes them into
 * {@code DIR} (that is how {@code src/test/resources/fuzz/elf} was made; {@code ElfSeedsTest}
 * checks that the committed files are still these bytes).
 */
public final class ElfSeeds {
  /** Where the dynamically linked seeds expect their interpreter, in the fuzzer's guest root. */
  public static final String INTERP = "/fuzz/ld.so";
  static final int PT_LOAD = 1;
  static final int PT_INTERP = 3;
  static final int PT_PHDR = 6;
  static final int PT_GNU_STACK = 0x6474e551;
  static final int EHDR = 64;
  static final int PHDR = 56;
  /** mov $60, %eax; xor %edi, %edi; syscall: exit(0). */
  static final byte[] EXIT0 = {(byte) 0xb8, 60, 0, 0, 0, 0x31, (byte) 0xff, 0x0f, 0x05};

  private ElfSeeds() {}

  /** One program header: type, flags, offset, vaddr, filesz, memsz, align. */
  record Ph(int type, int flags, long offset, long vaddr, long filesz, long memsz, long align) {}

  private static byte[] elf(int type, long entry, Ph[] phs, int size, byte[] code, int codeAt, byte[] extra, int extraAt) {
    ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(0, 0x464c457f).put(4, (byte) 2).put(5, (byte) 1).put(6, (byte) 1);
    b.putShort(16, (short) type).putShort(18, (short) 62).putInt(20, 1).putLong(24, entry).putLong(32, EHDR)
        .putShort(52, (short) EHDR).putShort(54, (short) PHDR).putShort(56, (short) phs.length);
    for (int i = 0; i < phs.length; i++) {
      int at = EHDR + PHDR * i;
      Ph p = phs[i];
      b.putInt(at, p.type()).putInt(at + 4, p.flags()).putLong(at + 8, p.offset()).putLong(at + 16, p.vaddr())
          .putLong(at + 24, p.vaddr()).putLong(at + 32, p.filesz()).putLong(at + 40, p.memsz()).putLong(at + 48, p.align());
    }
    b.put(codeAt, code);
    if (extra != null) {
      b.put(extraAt, extra);
    }
    return b.array();
  }

  /** The seeds by file name. */
  public static Map<String, byte[]> all() {
    Map<String, byte[]> m = new LinkedHashMap<>();
    int rx = 5;
    int rw = 6;
    // A static ET_EXEC: one text segment holding the headers and the code.
    int code = EHDR + 2 * PHDR;
    int size = code + EXIT0.length;
    m.put("static.elf", elf(2, 0x400000 + code, new Ph[] {
        new Ph(PT_LOAD, rx, 0, 0x400000, size, size, 0x1000), new Ph(PT_GNU_STACK, rw, 0, 0, 0, 0, 16)},
        size, EXIT0, code, null, 0));
    // Text, then data whose last file page is shared with bss (zeroed past p_filesz) and more bss.
    code = EHDR + 3 * PHDR;
    int data = code + 16;
    size = data + 32;
    m.put("static-bss.elf", elf(2, 0x400000 + code, new Ph[] {
        new Ph(PT_LOAD, rx, 0, 0x400000, data, data, 0x1000),
        new Ph(PT_LOAD, rw, data, 0x601000 + data, 32, 0x3000, 0x1000),
        new Ph(PT_GNU_STACK, rw, 0, 0, 0, 0, 16)}, size, EXIT0, code, filler(32), data));
    // A static-pie ET_DYN: linked at 0, PT_PHDR naming its own headers.
    code = EHDR + 3 * PHDR;
    size = code + EXIT0.length;
    m.put("static-pie.elf", elf(3, code, new Ph[] {
        new Ph(PT_PHDR, 4, EHDR, EHDR, 3 * PHDR, 3 * PHDR, 8), new Ph(PT_LOAD, rx, 0, 0, size, size, 0x1000),
        new Ph(PT_GNU_STACK, rw, 0, 0, 0, 0, 16)}, size, EXIT0, code, null, 0));
    // The interpreter: ET_DYN with text and a data + bss segment two pages up (a hole between).
    code = EHDR + 2 * PHDR;
    data = code + 16;
    size = data + 24;
    m.put("ld.so", elf(3, code, new Ph[] {
        new Ph(PT_LOAD, rx, 0, 0, data, data, 0x1000), new Ph(PT_LOAD, rw, data, 0x3000 + data, 24, 0x1800, 0x1000)},
        size, EXIT0, code, filler(24), data));
    // Dynamically linked programs: PT_PHDR, PT_INTERP naming the interpreter, one text segment.
    byte[] interp = (INTERP + "\0").getBytes(StandardCharsets.US_ASCII);
    int path = EHDR + 4 * PHDR;
    code = path + interp.length;
    size = code + EXIT0.length;
    for (int type : new int[] {2, 3}) {
      long base = type == 2 ? 0x400000 : 0;
      m.put(type == 2 ? "dynamic.elf" : "dynamic-pie.elf", elf(type, base + code, new Ph[] {
          new Ph(PT_PHDR, 4, EHDR, base + EHDR, 4 * PHDR, 4 * PHDR, 8),
          new Ph(PT_INTERP, 4, path, base + path, interp.length, interp.length, 1),
          new Ph(PT_LOAD, rx, 0, base, size, size, 0x1000), new Ph(PT_GNU_STACK, rw, 0, 0, 0, 0, 16)},
          size, EXIT0, code, interp, path));
    }
    return m;
  }

  private static byte[] filler(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) (0xa0 + i);
    }
    return b;
  }

  /** Writes the seeds into the directory {@code args[0]}. */
  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args[0]);
    Files.createDirectories(dir);
    for (Map.Entry<String, byte[]> e : all().entrySet()) {
      Files.write(dir.resolve(e.getKey()), e.getValue());
    }
  }
}
