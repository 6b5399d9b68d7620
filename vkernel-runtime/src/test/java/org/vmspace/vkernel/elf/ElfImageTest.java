package org.vmspace.vkernel.elf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.PathBytes;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * ElfImage's parsing of real Debian binaries and of hostile headers: PT_INTERP as Linux checks
 * it (2 to 4096 bytes, NUL-terminated, its bytes kept as they are), PT_LOAD ranges that would
 * wrap an unsigned check, and random headers, which must either parse into segments inside the
 * file and the user address range or fail with a SyscallError (never another exception).
 */
class ElfImageTest {
  @TempDir
  Path dir;

  private static ElfImage parse(Path file) throws IOException {
    int fd = Host.openat2(Host.AT_FDCWD, PathBytes.bytes(file.toString()), Host.O_RDONLY | Host.O_CLOEXEC, 0, 0);
    assertThat(fd).as("open %s", file).isNotNegative();
    try {
      return ElfImage.parse(fd, Files.size(file));
    } finally {
      Host.close(fd);
    }
  }

  @Test
  void debiansDynamicLsNamesItsInterpreter() throws IOException {
    ElfImage ls = parse(Path.of("/bin/ls"));
    assertThat(ls.type()).isEqualTo(ElfImage.ET_DYN);
    assertThat(ls.interp()).isEqualTo("/lib64/ld-linux-x86-64.so.2");
    assertThat(ls.loads()).isNotEmpty();
    assertThat(ls.span()[0]).isZero();
    assertThat(ls.segments()).anyMatch(s -> s.type() == ElfImage.PT_PHDR);
  }

  @Test
  void theInterpreterAndStaticProgramsHaveNone() throws IOException {
    ElfImage ldso = parse(Path.of("/lib64/ld-linux-x86-64.so.2").toRealPath());
    assertThat(ldso.type()).isEqualTo(ElfImage.ET_DYN);
    assertThat(ldso.interp()).isNull();
    assertThat(parse(Path.of("/bin/busybox")).interp()).isNull();
  }

  /** A minimal ELF64 x86-64 header with the given program headers (each 7 longs' worth). */
  private Path elf(int type, long[][] phdrs, byte[] tail) throws IOException {
    int phoff = 64;
    ByteBuffer b = ByteBuffer.allocate(phoff + 56 * phdrs.length + tail.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(0, 0x464c457f).put(4, (byte) 2).put(5, (byte) 1).put(6, (byte) 1);
    b.putShort(16, (short) type).putShort(18, (short) 62).putInt(20, 1);
    b.putLong(24, 0x401000).putLong(32, phoff).putShort(52, (short) 64).putShort(54, (short) 56)
        .putShort(56, (short) phdrs.length);
    for (int i = 0; i < phdrs.length; i++) {
      int at = phoff + 56 * i;
      long[] p = phdrs[i]; // type, flags, offset, vaddr, filesz, memsz, align
      b.putInt(at, (int) p[0]).putInt(at + 4, (int) p[1]).putLong(at + 8, p[2]).putLong(at + 16, p[3])
          .putLong(at + 24, p[3]).putLong(at + 32, p[4]).putLong(at + 40, p[5]).putLong(at + 48, p[6]);
    }
    b.put(phoff + 56 * phdrs.length, tail);
    Path f = Files.createTempFile(dir, "elf", "");
    Files.write(f, b.array());
    return f;
  }

  private static final long[] LOAD = {ElfImage.PT_LOAD, 5, 0, 0x400000, 64, 64, 4096};

  private Path withInterp(byte[] interp) throws IOException {
    int tailAt = 64 + 56 * 2;
    return elf(ElfImage.ET_EXEC, new long[][] {LOAD, {ElfImage.PT_INTERP, 4, tailAt, 0, interp.length, interp.length, 1}},
        interp);
  }

  @Test
  void ptInterpIsCheckedAsLinuxDoes() throws IOException {
    assertThat(parse(withInterp("/lib/ld.so\0".getBytes(StandardCharsets.US_ASCII))).interp()).isEqualTo("/lib/ld.so");
    assertThatThrownBy(() -> parse(withInterp("/lib/ld.so".getBytes(StandardCharsets.US_ASCII))))
        .isInstanceOf(SyscallError.class).hasMessageContaining("NUL");
    assertThatThrownBy(() -> parse(withInterp(new byte[] {0})))
        .isInstanceOfSatisfying(SyscallError.class, e -> assertThat(e.errno()).isEqualTo(LinuxErrno.ENOEXEC));
    byte[] long4097 = new byte[4097];
    java.util.Arrays.fill(long4097, (byte) 'a');
    long4097[4096] = 0;
    assertThatThrownBy(() -> parse(withInterp(long4097)))
        .isInstanceOfSatisfying(SyscallError.class, e -> assertThat(e.errno()).isEqualTo(LinuxErrno.ENOEXEC));
  }

  @Test
  void anInterpreterPathKeepsItsBytes() throws IOException {
    byte[] path = {'/', 'l', (byte) 0xff, (byte) 0xc3, 0x28, 0};
    assertThat(PathBytes.bytes(parse(withInterp(path)).interp())).containsExactly('/', 'l', (byte) 0xff, (byte) 0xc3, 0x28);
  }

  @Test
  void loadsThatWouldWrapAreRefused() throws IOException {
    long[][][] bad = {
      {{ElfImage.PT_LOAD, 5, -8, 0x400000, 16, 16, 4096}}, // offset + filesz wraps
      {{ElfImage.PT_LOAD, 5, 0, 0x400000, 64, 32, 4096}}, // filesz > memsz
      {{ElfImage.PT_LOAD, 5, 0, 0x400000, 1 << 20, 1 << 20, 4096}}, // past the end of the file
      {{ElfImage.PT_LOAD, 5, 0, -4096, 64, 64, 4096}}, // vaddr in the kernel half
      {{ElfImage.PT_LOAD, 5, 0, 0x7FFF_FFFF_0000L, 64, 0x10_0000, 4096}}, // vaddr + memsz past the user range
      {{ElfImage.PT_LOAD, 5, 0, 0x1000, 64, -0x1000, 4096}}, // memsz wraps vaddr + memsz
    };
    for (long[][] phdrs : bad) {
      Path f = elf(ElfImage.ET_EXEC, phdrs, new byte[0]);
      assertThatThrownBy(() -> parse(f)).as(java.util.Arrays.toString(phdrs[0]))
          .isInstanceOfSatisfying(SyscallError.class, e -> assertThat(e.errno()).isEqualTo(LinuxErrno.ENOEXEC));
    }
  }

  @Test
  void randomHeadersParseSafelyOrFailWithAnErrno() throws IOException {
    Random r = new Random(13);
    int parsed = 0;
    for (int round = 0; round < 400; round++) {
      int n = 1 + r.nextInt(4);
      long[][] phdrs = new long[n][];
      for (int i = 0; i < n; i++) {
        long[] interesting = {0, 1, 63, 64, 4096, -1, -4096, 0x7FFF_FFFF_F000L, 0x400000, r.nextLong()};
        phdrs[i] = new long[] {r.nextBoolean() ? ElfImage.PT_LOAD : r.nextInt(8), 5,
            interesting[r.nextInt(interesting.length)], interesting[r.nextInt(interesting.length)],
            interesting[r.nextInt(interesting.length)], interesting[r.nextInt(interesting.length)], 4096};
      }
      byte[] tail = new byte[r.nextInt(200)];
      r.nextBytes(tail);
      Path f = elf(r.nextBoolean() ? ElfImage.ET_EXEC : ElfImage.ET_DYN, phdrs, tail);
      long size = Files.size(f);
      try {
        ElfImage img = parse(f);
        parsed++;
        for (ElfImage.Segment s : img.loads()) {
          assertThat(Long.compareUnsigned(s.filesz(), s.memsz())).isLessThanOrEqualTo(0);
          assertThat(Long.compareUnsigned(s.offset() + s.filesz(), size)).isLessThanOrEqualTo(0);
          assertThat(Long.compareUnsigned(s.offset(), s.offset() + s.filesz())).isLessThanOrEqualTo(0);
          assertThat(Long.compareUnsigned(s.vaddr() + s.memsz(), ElfImage.USER_LIMIT)).isLessThanOrEqualTo(0);
          assertThat(Long.compareUnsigned(s.vaddr(), s.vaddr() + s.memsz())).isLessThanOrEqualTo(0);
        }
      } catch (SyscallError expected) {
        assertThat(expected.errno()).isIn(LinuxErrno.ENOEXEC, LinuxErrno.EIO);
      } finally {
        Files.delete(f);
      }
    }
    assertThat(parsed).as("some random headers are valid").isPositive();
  }
}
