package org.vmspace.vkernel.elf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The virtual dynamic shared object every process gets (AT_SYSINFO_EHDR): a minimal ELF shared
 * object exporting {@code __vdso_clock_gettime}, {@code __vdso_gettimeofday}, {@code
 * __vdso_time}, {@code __vdso_getcpu} and {@code __vdso_clock_getres} (and their unprefixed
 * aliases), each a three-instruction stub that makes the system call.
 *
 * <p>Programs need it to exist more than to be fast: dietlibc, finding no AT_SYSINFO_EHDR,
 * parses the legacy vsyscall page at {@code 0xffffffffff600000} instead, which modern kernels
 * (and this one) do not make readable, and calls what it finds without checking. glibc and
 * musl look symbols up through the dynamic section, the SysV hash table and the dynamic symbol
 * table; dietlibc through the section headers. All of it is laid out here in one page.
 */
public final class Vdso {
  /** Where the vDSO is mapped: just above the initial stack. */
  public static final long ADDRESS = 0x7FFF_FF10_0000L;
  /** Its size (one page). */
  public static final int SIZE = 4096;

  private static final int PHDRS = 0x40;
  private static final int HASH = 0x100;
  private static final int DYNSYM = 0x200;
  private static final int DYNSTR = 0x400;
  private static final int DYNAMIC = 0x600;
  private static final int TEXT = 0x800;
  private static final int SHDRS = 0xA00;
  private static final int SHSTRTAB = 0xC00;
  private static final int VERSYM = 0xD00;
  private static final int VERDEF = 0xE00;
  private static final long DT_VERSYM = 0x6ffffff0L;
  private static final long DT_VERDEF = 0x6ffffffcL;
  private static final long DT_VERDEFNUM = 0x6ffffffdL;
  /** The version the symbols are defined in, as Linux's vDSO has it. */
  static final String VERSION = "LINUX_2.6";
  private static final int PT_LOAD = 1;
  private static final int PT_DYNAMIC = 2;
  private static final byte[] IMAGE = build();

  private Vdso() {}

  /** The image (a copy). */
  public static byte[] image() {
    return IMAGE.clone();
  }

  private static byte[] build() {
    Map<String, Integer> calls = new LinkedHashMap<>();
    calls.put("clock_gettime", 228);
    calls.put("gettimeofday", 96);
    calls.put("time", 201);
    calls.put("getcpu", 309);
    calls.put("clock_getres", 229);
    ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);

    // Stubs: mov $nr, %eax; syscall; ret (8 bytes each, padded to 16).
    Map<String, Integer> stubAt = new LinkedHashMap<>();
    int at = TEXT;
    for (Map.Entry<String, Integer> e : calls.entrySet()) {
      stubAt.put(e.getKey(), at);
      b.put(at, (byte) 0xb8).putInt(at + 1, e.getValue());
      b.put(at + 5, (byte) 0x0f).put(at + 6, (byte) 0x05).put(at + 7, (byte) 0xc3);
      at += 16;
    }

    // Symbols: index 0 is the null symbol; then __vdso_X and X for each call.
    ByteBuffer strtab = ByteBuffer.allocate(DYNAMIC - DYNSTR);
    strtab.put((byte) 0);
    strtab.put(VERSION.getBytes(StandardCharsets.US_ASCII)).put((byte) 0);
    int sonameOff = strtab.position();
    strtab.put("linux-vdso.so.1".getBytes(StandardCharsets.US_ASCII)).put((byte) 0);
    int nsyms = 1;
    for (Map.Entry<String, Integer> e : stubAt.entrySet()) {
      for (String name : new String[] {"__vdso_" + e.getKey(), e.getKey()}) {
        int nameOff = strtab.position();
        strtab.put(name.getBytes(StandardCharsets.US_ASCII)).put((byte) 0);
        int s = DYNSYM + 24 * nsyms;
        b.putInt(s, nameOff);
        b.put(s + 4, (byte) 0x12); // STB_GLOBAL, STT_FUNC
        b.put(s + 5, (byte) 0); // STV_DEFAULT
        b.putShort(s + 6, (short) 1); // defined (any section but UNDEF and the special ones)
        b.putLong(s + 8, e.getValue());
        b.putLong(s + 16, 8);
        nsyms++;
      }
    }
    int strsz = strtab.position();
    b.put(DYNSTR, strtab.array(), 0, strsz);

    // SysV hash: one bucket, every symbol on its chain.
    b.putInt(HASH, 1);
    b.putInt(HASH + 4, nsyms);
    b.putInt(HASH + 8, 1);
    for (int i = 0; i < nsyms; i++) {
      b.putInt(HASH + 12 + 4 * i, i == 0 || i == nsyms - 1 ? 0 : i + 1);
    }

    // Symbol versions, as Linux's vDSO: every symbol is LINUX_2.6 (index 2), defined after the
    // base definition (index 1, the object's name). Go's runtime follows the version
    // definitions without checking that there are any.
    for (int i = 0; i < nsyms; i++) {
      b.putShort(VERSYM + 2 * i, (short) (i == 0 ? 0 : 2));
    }
    putVerdef(b, VERDEF, 1, 1, elfHash("linux-vdso.so.1"), sonameOff, 20 + 8);
    putVerdef(b, VERDEF + 28, 0, 2, elfHash(VERSION), 1, 0);

    // Dynamic section.
    long[][] dyn = {{4, HASH}, {5, DYNSTR}, {6, DYNSYM}, {10, strsz}, {11, 24}, {DT_VERSYM, VERSYM},
      {DT_VERDEF, VERDEF}, {DT_VERDEFNUM, 2}, {0, 0}};
    for (int i = 0; i < dyn.length; i++) {
      b.putLong(DYNAMIC + 16 * i, dyn[i][0]);
      b.putLong(DYNAMIC + 16 * i + 8, dyn[i][1]);
    }

    // Section headers (dietlibc finds .dynsym and .dynstr through them).
    String[] names = {"", ".text", ".dynsym", ".dynstr", ".hash", ".dynamic", ".shstrtab"};
    int[] nameOff = new int[names.length];
    int sp = 0;
    for (int i = 0; i < names.length; i++) {
      nameOff[i] = sp;
      byte[] n = names[i].getBytes(StandardCharsets.US_ASCII);
      b.put(SHSTRTAB + sp, n);
      sp += n.length + 1;
    }
    // {type, flags, addr/offset, size, link, info, entsize}
    long[][] sections = {
      {0, 0, 0, 0, 0, 0, 0},
      {1, 6, TEXT, 16L * calls.size(), 0, 0, 0}, // PROGBITS, ALLOC|EXECINSTR
      {11, 2, DYNSYM, 24L * nsyms, 3, 1, 24}, // DYNSYM -> .dynstr
      {3, 2, DYNSTR, strsz, 0, 0, 0}, // STRTAB
      {5, 2, HASH, 4L * (3 + nsyms), 2, 0, 4}, // HASH -> .dynsym
      {6, 3, DYNAMIC, 16L * dyn.length, 3, 0, 16}, // DYNAMIC, ALLOC|WRITE
      {3, 0, SHSTRTAB, sp, 0, 0, 0},
    };
    for (int i = 0; i < sections.length; i++) {
      int h = SHDRS + 64 * i;
      long[] sec = sections[i];
      b.putInt(h, nameOff[i]).putInt(h + 4, (int) sec[0]).putLong(h + 8, sec[1]);
      b.putLong(h + 16, i == sections.length - 1 ? 0 : sec[2]).putLong(h + 24, sec[2]).putLong(h + 32, sec[3]);
      b.putInt(h + 40, (int) sec[4]).putInt(h + 44, (int) sec[5]).putLong(h + 48, i == 0 ? 0 : 8).putLong(h + 56, sec[6]);
    }

    // ELF header: ET_DYN x86-64 with two program headers.
    b.putInt(0, 0x464c457f);
    b.put(4, (byte) 2).put(5, (byte) 1).put(6, (byte) 1); // ELFCLASS64, little-endian, version
    b.putShort(16, (short) 3); // ET_DYN
    b.putShort(18, (short) 62); // EM_X86_64
    b.putInt(20, 1);
    b.putLong(24, 0); // no entry
    b.putLong(32, PHDRS);
    b.putLong(40, SHDRS);
    b.putShort(52, (short) 64);
    b.putShort(54, (short) 56);
    b.putShort(56, (short) 2);
    b.putShort(58, (short) 64);
    b.putShort(60, (short) sections.length);
    b.putShort(62, (short) (sections.length - 1));
    // PT_LOAD: the whole page, readable and executable.
    b.putInt(PHDRS, PT_LOAD).putInt(PHDRS + 4, 5);
    b.putLong(PHDRS + 8, 0).putLong(PHDRS + 16, 0).putLong(PHDRS + 24, 0);
    b.putLong(PHDRS + 32, SIZE).putLong(PHDRS + 40, SIZE).putLong(PHDRS + 48, SIZE);
    // PT_DYNAMIC.
    int p2 = PHDRS + 56;
    b.putInt(p2, PT_DYNAMIC).putInt(p2 + 4, 4);
    b.putLong(p2 + 8, DYNAMIC).putLong(p2 + 16, DYNAMIC).putLong(p2 + 24, DYNAMIC);
    b.putLong(p2 + 32, 16L * dyn.length).putLong(p2 + 40, 16L * dyn.length).putLong(p2 + 48, 8);
    return b.array();
  }

  /** One Elf64_Verdef with its single Elf64_Verdaux right after it (20 + 8 bytes). */
  private static void putVerdef(ByteBuffer b, int at, int flags, int index, int hash, int nameOff, int next) {
    b.putShort(at, (short) 1); // vd_version
    b.putShort(at + 2, (short) flags); // VER_FLG_BASE for the object's own name
    b.putShort(at + 4, (short) index);
    b.putShort(at + 6, (short) 1); // vd_cnt
    b.putInt(at + 8, hash);
    b.putInt(at + 12, 20); // vd_aux: the Verdaux follows
    b.putInt(at + 16, next); // vd_next: 0 for the last
    b.putInt(at + 20, nameOff); // vda_name
    b.putInt(at + 24, 0); // vda_next
  }

  /** The System V ELF hash of a name (the version hashes in Verdef entries). */
  static int elfHash(String name) {
    int h = 0;
    for (byte c : name.getBytes(StandardCharsets.US_ASCII)) {
      h = (h << 4) + (c & 0xff);
      int g = h & 0xf0000000;
      if (g != 0) {
        h ^= g >>> 24;
      }
      h &= ~g;
    }
    return h;
  }
}
