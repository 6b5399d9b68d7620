package org.vmspace.vkernel.elf;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The vDSO resolves the way each C library resolves it: through PT_DYNAMIC, DT_HASH, DT_SYMTAB
 * and DT_STRTAB (glibc, musl), and through the section headers (dietlibc); each symbol is a stub
 * making its system call.
 */
class VdsoTest {
  private final ByteBuffer b = ByteBuffer.wrap(Vdso.image()).order(ByteOrder.LITTLE_ENDIAN);

  @Test
  void itIsASharedObjectForX8664() {
    assertThat(b.getInt(0)).isEqualTo(0x464c457f);
    assertThat(b.get(4)).isEqualTo((byte) 2);
    assertThat(b.getShort(16)).isEqualTo((short) 3);
    assertThat(b.getShort(18)).isEqualTo((short) 62);
    assertThat(Vdso.image()).hasSize(Vdso.SIZE);
    assertThat(Vdso.ADDRESS % 4096).isZero();
  }

  @Test
  void symbolsResolveThroughTheDynamicSectionAndHashTable() {
    long dyn = segment(2);
    long hash = 0;
    long symtab = 0;
    long strtab = 0;
    for (long at = dyn; b.getLong((int) at) != 0; at += 16) {
      long tag = b.getLong((int) at);
      long val = b.getLong((int) at + 8);
      if (tag == 4) {
        hash = val;
      } else if (tag == 6) {
        symtab = val;
      } else if (tag == 5) {
        strtab = val;
      }
    }
    assertThat(hash).isPositive();
    for (String[] s : new String[][] {{"__vdso_clock_gettime", "228"}, {"__vdso_gettimeofday", "96"},
        {"__vdso_time", "201"}, {"__vdso_getcpu", "309"}, {"clock_gettime", "228"}}) {
      long value = lookupByHash(hash, symtab, strtab, s[0]);
      assertThat(value).as(s[0]).isPositive();
      assertStub(value, Integer.parseInt(s[1]));
    }
    assertThat(lookupByHash(hash, symtab, strtab, "__vdso_nothing")).isZero();
  }

  @Test
  void everySymbolIsVersionedLinux26AsGoAndGlibcExpect() {
    long dyn = segment(2);
    long versym = 0;
    long verdef = 0;
    long verdefnum = 0;
    long strtab = 0;
    long symtab = 0;
    for (long at = dyn; b.getLong((int) at) != 0; at += 16) {
      long tag = b.getLong((int) at);
      long val = b.getLong((int) at + 8);
      if (tag == 0x6ffffff0L) {
        versym = val;
      } else if (tag == 0x6ffffffcL) {
        verdef = val;
      } else if (tag == 0x6ffffffdL) {
        verdefnum = val;
      } else if (tag == 5) {
        strtab = val;
      } else if (tag == 6) {
        symtab = val;
      }
    }
    assertThat(versym).isPositive();
    assertThat(verdef).isPositive();
    assertThat(verdefnum).isEqualTo(2);
    // Go's runtime walks the definitions as vdsoFindVersion does, with its own hash of LINUX_2.6.
    assertThat(Vdso.elfHash("LINUX_2.6")).isEqualTo(0x3ae75f6);
    int found = -1;
    long def = verdef;
    while (true) {
      int flags = b.getShort((int) def + 2);
      if ((flags & 1) == 0) {
        long aux = def + b.getInt((int) def + 12);
        if (b.getInt((int) def + 8) == 0x3ae75f6 && name(strtab + b.getInt((int) aux)).equals("LINUX_2.6")) {
          found = b.getShort((int) def + 4) & 0x7fff;
        }
      }
      if (b.getInt((int) def + 16) == 0) {
        break;
      }
      def += b.getInt((int) def + 16);
    }
    assertThat(found).isEqualTo(2);
    // Symbol 0 is local; every other one is in that version.
    assertThat(b.getShort((int) versym)).isZero();
    for (int i = 1; i < 11; i++) {
      assertThat(name(strtab + b.getInt((int) (symtab + 24L * i)))).isNotEmpty();
      assertThat(b.getShort((int) versym + 2 * i)).as("versym[%d]", i).isEqualTo((short) 2);
    }
  }

  @Test
  void symbolsResolveThroughTheSectionHeadersAsDietlibcDoes() {
    long shoff = b.getLong(40);
    int shentsize = b.getShort(58);
    int shnum = b.getShort(60);
    long dynstr = -1;
    long dynsym = -1;
    long dynsymSize = 0;
    for (int i = 0; i < shnum; i++) {
      int h = (int) (shoff + (long) shentsize * i);
      int type = b.getInt(h + 4);
      if (type == 3 && (b.getLong(h + 8) & 2) != 0) {
        dynstr = b.getLong(h + 24);
      } else if (type == 11) {
        dynsym = b.getLong(h + 24);
        dynsymSize = b.getLong(h + 32);
      }
    }
    assertThat(dynstr).isPositive();
    assertThat(dynsym).isPositive();
    boolean found = false;
    for (long s = dynsym; s < dynsym + dynsymSize; s += 24) {
      if (name(dynstr + b.getInt((int) s)).equals("__vdso_gettimeofday")) {
        int shndx = b.getShort((int) s + 6);
        int h = (int) (shoff + (long) shentsize * shndx);
        long fileOffset = b.getLong(h + 24) + b.getLong((int) s + 8) - b.getLong(h + 16);
        assertStub(fileOffset, 96);
        found = true;
      }
    }
    assertThat(found).isTrue();
  }

  private long segment(int type) {
    long phoff = b.getLong(32);
    for (int i = 0; i < b.getShort(56); i++) {
      int p = (int) (phoff + 56L * i);
      if (b.getInt(p) == type) {
        return b.getLong(p + 16);
      }
    }
    throw new AssertionError("no program header of type " + type);
  }

  private long lookupByHash(long hash, long symtab, long strtab, String wanted) {
    int nbucket = b.getInt((int) hash);
    long h = 0;
    for (byte c : wanted.getBytes(StandardCharsets.US_ASCII)) {
      h = (h << 4) + c;
      long g = h & 0xf0000000L;
      if (g != 0) {
        h ^= g >>> 24;
      }
      h &= ~g;
    }
    int chain = (int) (hash + 8 + 4L * nbucket);
    for (int i = b.getInt((int) (hash + 8 + 4 * (h % nbucket))); i != 0; i = b.getInt(chain + 4 * i)) {
      int s = (int) (symtab + 24L * i);
      if (name(strtab + b.getInt(s)).equals(wanted)) {
        return b.getLong(s + 8);
      }
    }
    return 0;
  }

  private String name(long at) {
    StringBuilder sb = new StringBuilder();
    for (int i = (int) at; b.get(i) != 0; i++) {
      sb.append((char) b.get(i));
    }
    return sb.toString();
  }

  private void assertStub(long at, int nr) {
    int i = (int) at;
    assertThat(b.get(i)).isEqualTo((byte) 0xb8);
    assertThat(b.getInt(i + 1)).isEqualTo(nr);
    assertThat(new byte[] {b.get(i + 5), b.get(i + 6), b.get(i + 7)}).containsExactly(0x0f, 0x05, 0xc3);
  }
}
