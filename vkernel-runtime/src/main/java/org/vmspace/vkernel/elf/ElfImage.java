package org.vmspace.vkernel.elf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.vmspace.api.VmspaceService;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.PathBytes;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The parts of an ELF64 x86-64 executable the loader needs: type, entry, program headers.
 * Immutable; parsed once per file version and cached by the kernel.
 *
 * @param type ET_EXEC (2) or ET_DYN (3)
 * @param interp the PT_INTERP path (bytes, as {@link PathBytes} holds them), or null for a static
 *     executable
 */
public record ElfImage(int type, long entry, long phoff, int phentsize, int phnum,
    List<Segment> segments, String interp, long fileSize) {

  public static final int ET_EXEC = 2;
  public static final int ET_DYN = 3;
  public static final int PT_LOAD = 1;
  public static final int PT_INTERP = 3;
  public static final int PT_PHDR = 6;
  public static final int PT_GNU_STACK = 0x6474e551;
  /** Where user addresses end: the vmspace's limit, so a header the loader accepts can be mapped. */
  static final long USER_LIMIT = VmspaceService.VM_MAX_USER_ADDRESS;
  /** The most bytes of program headers Linux reads (ELF_MIN_ALIGN, a page). */
  static final long MAX_PHDRS_SIZE = 4096;
  public static final int PF_X = 1;
  public static final int PF_W = 2;
  public static final int PF_R = 4;

  /** One program header. */
  public record Segment(int type, int flags, long offset, long vaddr, long filesz, long memsz, long align) {}

  private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /**
   * Parses the executable open on host descriptor {@code fd}.
   *
   * @throws SyscallError ENOEXEC if it is not an ELF64 x86-64 executable this kernel loads, EIO if
   *     its PT_INTERP path lies past the end of the file (a short read, as in Linux)
   */
  public static ElfImage parse(int fd, long fileSize) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment h = a.allocate(64);
      if (Host.pread(fd, h, 64, 0) != 64) {
        throw new SyscallError(LinuxErrno.ENOEXEC, "too short for ELF");
      }
      if (h.get(INT, 0) != 0x464c457f) {
        throw new SyscallError(LinuxErrno.ENOEXEC, "not ELF");
      }
      if (h.get(ValueLayout.JAVA_BYTE, 4) != 2 || h.get(ValueLayout.JAVA_BYTE, 5) != 1) {
        throw new SyscallError(LinuxErrno.ENOEXEC, "not 64-bit little-endian ELF");
      }
      int type = Short.toUnsignedInt(h.get(SHORT, 16));
      int machine = Short.toUnsignedInt(h.get(SHORT, 18));
      if (machine != 62) {
        throw new SyscallError(LinuxErrno.ENOEXEC, "not x86-64 (machine " + machine + ")");
      }
      if (type != ET_EXEC && type != ET_DYN) {
        throw new SyscallError(LinuxErrno.ENOEXEC, "not an executable (type " + type + ")");
      }
      long entry = h.get(LONG, 24);
      long phoff = h.get(LONG, 32);
      int phentsize = Short.toUnsignedInt(h.get(SHORT, 54));
      int phnum = Short.toUnsignedInt(h.get(SHORT, 56));
      // As Linux's load_elf_phdrs: the table is 1 to 4096 bytes (one page: at most 73 entries).
      // e_phoff is unsigned: compared so that no offset near 2^64 can wrap the end past the file's.
      if (phentsize != 56 || phnum == 0 || 56L * phnum > MAX_PHDRS_SIZE || phoff == 0
          || Long.compareUnsigned(phoff, fileSize) > 0 || 56L * phnum > fileSize - phoff) {
        throw new SyscallError(LinuxErrno.ENOEXEC, "bad program headers");
      }
      MemorySegment ph = a.allocate(56L * phnum);
      if (Host.pread(fd, ph, 56L * phnum, phoff) != 56L * phnum) {
        throw new SyscallError(LinuxErrno.ENOEXEC, "short program headers");
      }
      List<Segment> segs = new ArrayList<>();
      String interp = null;
      for (int i = 0; i < phnum; i++) {
        long b = 56L * i;
        Segment s = new Segment(ph.get(INT, b), ph.get(INT, b + 4), ph.get(LONG, b + 8), ph.get(LONG, b + 16),
            ph.get(LONG, b + 32), ph.get(LONG, b + 40), ph.get(LONG, b + 48));
        if (s.type() == PT_LOAD && !validLoad(s, fileSize)) {
          throw new SyscallError(LinuxErrno.ENOEXEC, "bad PT_LOAD");
        }
        if (s.type() == PT_INTERP && interp == null) { // the first one counts, as in Linux
          interp = interpreter(fd, s, fileSize, a);
        }
        segs.add(s);
      }
      if (segs.stream().noneMatch(s -> s.type() == PT_LOAD)) {
        throw new SyscallError(LinuxErrno.ENOEXEC, "no PT_LOAD");
      }
      return new ElfImage(type, entry, phoff, phentsize, phnum, List.copyOf(segs), interp, fileSize);
    }
  }

  /**
   * Whether a PT_LOAD lies within the file and the user address range, compared unsigned so that
   * no header can wrap a check.
   */
  private static boolean validLoad(Segment s, long fileSize) {
    long fileEnd = s.offset() + s.filesz();
    long memEnd = s.vaddr() + s.memsz();
    return Long.compareUnsigned(s.filesz(), s.memsz()) <= 0
        && Long.compareUnsigned(s.offset(), fileSize) <= 0
        && Long.compareUnsigned(s.filesz(), fileSize - s.offset()) <= 0
        && Long.compareUnsigned(fileEnd, fileSize) <= 0
        && Long.compareUnsigned(s.vaddr(), USER_LIMIT) < 0
        && Long.compareUnsigned(s.memsz(), USER_LIMIT - s.vaddr()) <= 0
        && Long.compareUnsigned(memEnd, USER_LIMIT) <= 0;
  }

  /**
   * The PT_INTERP path as bytes up to its NUL ({@link PathBytes} form): Linux requires it to be
   * NUL-terminated and at most PATH_MAX long, and ENOEXEC otherwise.
   */
  private static String interpreter(int fd, Segment s, long fileSize, Arena a) {
    if (Long.compareUnsigned(s.filesz(), 2) < 0 || Long.compareUnsigned(s.filesz(), 4096) > 0) {
      throw new SyscallError(LinuxErrno.ENOEXEC, "bad PT_INTERP");
    }
    // Linux's elf_read: a path that is not all in the file is a short read, EIO.
    if (Long.compareUnsigned(s.offset(), fileSize - s.filesz()) > 0) {
      throw new SyscallError(LinuxErrno.EIO, "PT_INTERP past the end of the file");
    }
    MemorySegment p = a.allocate(s.filesz());
    if (Host.pread(fd, p, s.filesz(), s.offset()) != s.filesz()) {
      throw new SyscallError(LinuxErrno.EIO, "short PT_INTERP");
    }
    byte[] b = p.toArray(ValueLayout.JAVA_BYTE);
    if (b[b.length - 1] != 0) {
      throw new SyscallError(LinuxErrno.ENOEXEC, "PT_INTERP not NUL-terminated");
    }
    int len = 0;
    while (b[len] != 0) {
      len++;
    }
    return PathBytes.of(b, 0, len);
  }

  /** The lowest page address and the end of the highest PT_LOAD, relative to the load base. */
  public long[] span() {
    long lo = -1;
    long hi = 0;
    for (Segment s : loads()) {
      lo = Long.compareUnsigned(s.vaddr() & ~4095L, lo) < 0 ? s.vaddr() & ~4095L : lo;
      hi = Math.max(hi, s.vaddr() + s.memsz());
    }
    return new long[] {lo, hi};
  }

  /** The PT_LOAD segments. */
  public List<Segment> loads() {
    // A loop, not a stream: this runs several times per exec, often where C2 has not compiled it.
    List<Segment> out = new java.util.ArrayList<>(segments.size());
    for (Segment s : segments) {
      if (s.type() == PT_LOAD) {
        out.add(s);
      }
    }
    return java.util.Collections.unmodifiableList(out);
  }
}
