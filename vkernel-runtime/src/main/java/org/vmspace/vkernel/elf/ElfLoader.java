package org.vmspace.vkernel.elf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Comparator;
import java.util.List;
import org.vmspace.api.Backing;
import org.vmspace.api.HostFile;
import org.vmspace.api.MapFlags;
import org.vmspace.api.Prot;
import org.vmspace.vkernel.mem.AddressSpace;
import org.vmspace.vkernel.mem.FileId;
import org.vmspace.vkernel.mem.UserMemory;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * Loads an ELF executable (ET_EXEC, PIE or static-pie ET_DYN, with its PT_INTERP interpreter when
 * it has one) into an empty vmspace the way Linux's binfmt_elf does: each PT_LOAD maps the
 * file's pages privately (copy-on-write, so every process running the binary shares its page
 * cache), the part of the last file page past
 * {@code p_filesz} is zeroed and the rest of {@code p_memsz} is anonymous; then the stack with
 * argv, envp and the auxiliary vector.
 */
public final class ElfLoader {
  /** Where static-pie executables are loaded (Linux's ELF_ET_DYN_BASE on x86-64). */
  public static final long PIE_BASE = 0x5555_5555_4000L;
  /** The top of the stack, below the vmspace limit. */
  public static final long STACK_TOP = 0x7FFF_FF00_0000L;
  /** The stack's size under RLIMIT_STACK's usual value. */
  public static final long STACK_SIZE = 8L << 20;
  /**
   * The least stack a program gets whatever RLIMIT_STACK says (Linux's ARG_MAX floor for the
   * arguments, 32 pages, and room to run).
   */
  public static final long MIN_STACK = 128L << 10;
  /**
   * The most: the stack is mapped, and committed, whole at exec, so an unlimited RLIMIT_STACK
   * gets this much rather than the gigabytes Linux would let it grow to.
   */
  public static final long MAX_STACK = 64L << 20;
  private static final long PAGE = 4096;
  private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  // auxv types
  static final int AT_NULL = 0;
  static final int AT_PHDR = 3;
  static final int AT_PHENT = 4;
  static final int AT_PHNUM = 5;
  static final int AT_PAGESZ = 6;
  static final int AT_BASE = 7;
  static final int AT_FLAGS = 8;
  static final int AT_ENTRY = 9;
  static final int AT_UID = 11;
  static final int AT_EUID = 12;
  static final int AT_GID = 13;
  static final int AT_EGID = 14;
  static final int AT_PLATFORM = 15;
  static final int AT_HWCAP = 16;
  static final int AT_CLKTCK = 17;
  static final int AT_SECURE = 23;
  static final int AT_RANDOM = 25;
  static final int AT_HWCAP2 = 26;
  static final int AT_EXECFN = 31;
  static final int AT_SYSINFO_EHDR = 33;

  /** Where the loaded program starts. */
  public record Loaded(long entry, long stackPointer, long brk, long loadBase) {}

  /** Credentials for the auxiliary vector. */
  public record Ids(int uid, int euid, int gid, int egid) {}

  private ElfLoader() {}

  /**
   * An executable or interpreter to load: its parsed headers, the host file its pages come from,
   * and the path and file identity /proc/PID/maps shows.
   */
  public record Program(ElfImage elf, HostFile file, String path, FileId id) {}

  /**
   * Loads {@code program} (and, for a dynamically linked one, its PT_INTERP {@code interp})
   * into the empty address space {@code as}, maps the stack and the vDSO and builds the initial
   * stack. As Linux's binfmt_elf without address randomization (the layout of {@code setarch -R}):
   * an ET_EXEC program at its own addresses, an ET_DYN one (PIE, static-pie) at {@link #PIE_BASE},
   * the interpreter wherever a {@code mmap(NULL, span)} of its whole span lands (the first free
   * range from {@link AddressSpace#MMAP_BASE}), with the holes between its segments unmapped.
   * The fixed layout keeps traces, /proc/PID/maps and crash addresses the same from run to run.
   * The process starts at the interpreter's entry when there is one, with AT_BASE its load
   * address and AT_ENTRY the program's entry.
   *
   * @param interp the interpreter, or null for a static program
   * @param stackLimit the soft RLIMIT_STACK (unsigned, -1 for none): the stack mapped below
   *     {@link #STACK_TOP} is that size, between {@link #MIN_STACK} and {@link #MAX_STACK}, and
   *     the arguments may take a quarter of it (at most 6 MiB, at least 128 KiB), as on Linux
   * @throws SyscallError ENOEXEC for what cannot be loaded, ENOMEM without memory, E2BIG for
   *     arguments over that quarter
   */
  public static Loaded load(AddressSpace as, Program program, Program interp,
      List<byte[]> argv, List<byte[]> envp, byte[] execfn, Ids ids, byte[] random, Backing vdso, long stackLimit) {
    long stackSize = stackSize(stackLimit);
    ElfImage image = program.elf();
    long base = image.type() == ElfImage.ET_DYN ? PIE_BASE : 0;
    long brk = 0;
    long phdrAddr = 0;
    long interpBase = 0;
    try {
      for (ElfImage.Segment s : image.loads()) {
        loadSegment(as, program, s, base);
        brk = Math.max(brk, base + s.vaddr() + s.memsz());
        if (image.phoff() >= s.offset() && image.phoff() < s.offset() + s.filesz()) {
          phdrAddr = base + s.vaddr() + (image.phoff() - s.offset());
        }
      }
      for (ElfImage.Segment s : image.segments()) {
        if (s.type() == ElfImage.PT_PHDR) {
          phdrAddr = base + s.vaddr();
        }
      }
      if (interp != null) {
        interpBase = loadInterpreter(as, interp);
      }
      as.mapFixed(STACK_TOP - stackSize, stackSize, Prot.PROT_READ | Prot.PROT_WRITE,
          MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON | MapFlags.MAP_STACK, null, 0, "[stack]");
      if (vdso != null) {
        // Private: a guest that makes its copy writable changes only its own.
        as.mapFixed(Vdso.ADDRESS, Vdso.SIZE, Prot.PROT_READ | Prot.PROT_EXEC, MapFlags.MAP_PRIVATE, vdso, 0, "[vdso]");
      }
    } catch (SyscallError e) {
      throw e.errno() == LinuxErrno.ENOMEM ? e : new SyscallError(LinuxErrno.ENOEXEC, e.getMessage());
    }
    long entry = interp != null ? interpBase + interp.elf().entry() : base + image.entry();
    long sp = buildStack(as.memory(), image, base, phdrAddr, interpBase, argv, envp, execfn, ids, random,
        vdso != null ? Vdso.ADDRESS : 0, argumentLimit(stackLimit));
    return new Loaded(entry, sp, (brk + PAGE - 1) & ~(PAGE - 1), base);
  }

  /**
   * Maps the interpreter: one reservation of its whole span (so its segments keep their
   * distances), each segment over it, and the holes between segments given back, as Linux's
   * load_elf_interp does. Returns the load bias.
   */
  private static long loadInterpreter(AddressSpace as, Program interp) {
    ElfImage elf = interp.elf();
    long[] span = elf.span();
    long bias = 0;
    if (elf.type() == ElfImage.ET_DYN) {
      long size = ((span[1] + PAGE - 1) & ~(PAGE - 1)) - span[0];
      long at = as.mmap(0, size, Prot.PROT_NONE, AddressSpace.MAP_PRIVATE | AddressSpace.MAP_ANONYMOUS, null, 0, "");
      bias = at - span[0];
    }
    long mapped = bias + span[0];
    for (ElfImage.Segment s : elf.loads().stream().sorted(Comparator.comparingLong(ElfImage.Segment::vaddr)).toList()) {
      long start = (bias + s.vaddr()) & ~(PAGE - 1);
      if (elf.type() == ElfImage.ET_DYN && start > mapped) {
        as.munmap(mapped, start - mapped);
      }
      loadSegment(as, interp, s, bias);
      mapped = Math.max(mapped, (bias + s.vaddr() + s.memsz() + PAGE - 1) & ~(PAGE - 1));
    }
    return bias;
  }

  private static int prot(int pflags) {
    return ((pflags & ElfImage.PF_R) != 0 ? Prot.PROT_READ : 0)
        | ((pflags & ElfImage.PF_W) != 0 ? Prot.PROT_WRITE : 0)
        | ((pflags & ElfImage.PF_X) != 0 ? Prot.PROT_EXEC : 0);
  }

  private static void loadSegment(AddressSpace as, Program program, ElfImage.Segment s, long base) {
    long vaddr = base + s.vaddr();
    // ElfImage keeps each segment inside the user range relative to 0; moved by the load base
    // (a PIE's, an interpreter's) it may end past it. Refused here, compared unsigned, so that
    // the vmspace is never asked for memory outside itself; Linux's mmap gives ENOMEM there.
    if (Long.compareUnsigned(vaddr, AddressSpace.USER_END) >= 0
        || Long.compareUnsigned(s.memsz(), AddressSpace.USER_END - vaddr) > 0
        || Long.compareUnsigned((vaddr + s.memsz() + PAGE - 1) & ~(PAGE - 1), AddressSpace.USER_END) > 0) {
      throw new SyscallError(LinuxErrno.ENOMEM, "segment past the end of the user address range");
    }
    long start = vaddr & ~(PAGE - 1);
    long fileEnd = vaddr + s.filesz();
    long memEnd = vaddr + s.memsz();
    long fileMapEnd = (fileEnd + PAGE - 1) & ~(PAGE - 1);
    int prot = prot(s.flags());
    boolean tail = s.memsz() > s.filesz() && (fileEnd & (PAGE - 1)) != 0;
    if (s.filesz() > 0) {
      if ((s.offset() & (PAGE - 1)) != (vaddr & (PAGE - 1))) {
        throw new SyscallError(LinuxErrno.ENOEXEC, "segment offset not congruent to its address");
      }
      int mapProt = tail ? prot | Prot.PROT_WRITE : prot;
      as.mapFixed(start, fileMapEnd - start, mapProt, MapFlags.MAP_PRIVATE, program.file(), s.offset() & ~(PAGE - 1),
          program.path(), program.id());
      if (tail) {
        int n = (int) (fileMapEnd - fileEnd);
        as.memory().write(fileEnd, MemorySegment.ofArray(new byte[n]), 0, n);
        if (mapProt != prot) {
          as.mprotect(start, fileMapEnd - start, prot);
        }
      }
    } else {
      fileMapEnd = start;
    }
    long anonEnd = (memEnd + PAGE - 1) & ~(PAGE - 1);
    if (anonEnd > fileMapEnd) {
      as.mapFixed(fileMapEnd, anonEnd - fileMapEnd, prot, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON, null, 0, "");
      if ((prot & Prot.PROT_WRITE) != 0) {
        // The bss: C start-up writes it (stdio, malloc's state, errno) before main.
        as.prefault(fileMapEnd, Math.min(anonEnd - fileMapEnd, AddressSpace.PREFAULT_BYTES));
      }
    }
  }

  /** The stack mapped for RLIMIT_STACK {@code limit}: page-rounded, within MIN_STACK..MAX_STACK. */
  public static long stackSize(long limit) {
    if (Long.compareUnsigned(limit, MAX_STACK) >= 0) {
      return MAX_STACK;
    }
    return Math.max(MIN_STACK, (limit + PAGE - 1) & -PAGE);
  }

  /**
   * How many bytes of argument and environment strings execve takes under RLIMIT_STACK
   * {@code limit}: a quarter of it, at most three quarters of the usual 8 MiB, at least 32 pages
   * (Linux's bprm_stack_limits).
   */
  public static long argumentLimit(long limit) {
    long quarter = Long.compareUnsigned(limit, 4 * (6L << 20)) >= 0 ? 6L << 20 : limit / 4;
    return Math.max(32 * PAGE, Math.min(6L << 20, quarter));
  }

  /**
   * The initial stack: strings at the top, then (16-byte aligned) argc, argv[], NULL, envp[],
   * NULL, auxv pairs ending in AT_NULL, with rsp at argc.
   */
  private static long buildStack(UserMemory mem, ElfImage image, long base, long phdr, long interpBase,
      List<byte[]> argv, List<byte[]> envp, byte[] execfn, Ids ids, byte[] random, long vdso, long argMax) {
    byte[] platform = "x86_64".getBytes(StandardCharsets.US_ASCII);
    int strings = execfn.length + 1 + platform.length + 1 + 16;
    for (byte[] a : argv) {
      strings += a.length + 1;
    }
    for (byte[] e : envp) {
      strings += e.length + 1;
    }
    if (strings > argMax) {
      throw new SyscallError(LinuxErrno.E2BIG);
    }
    long[][] aux = {
      {AT_SYSINFO_EHDR, vdso},
      {AT_PHDR, phdr}, {AT_PHENT, 56}, {AT_PHNUM, image.phnum()}, {AT_PAGESZ, PAGE},
      {AT_BASE, interpBase}, {AT_FLAGS, 0}, {AT_ENTRY, base + image.entry()},
      {AT_UID, ids.uid()}, {AT_EUID, ids.euid()}, {AT_GID, ids.gid()}, {AT_EGID, ids.egid()},
      {AT_SECURE, 0}, {AT_RANDOM, 0}, {AT_HWCAP, 0x178bfbffL}, {AT_HWCAP2, 0}, {AT_CLKTCK, 100},
      {AT_PLATFORM, 0}, {AT_EXECFN, 0}, {AT_NULL, 0},
    };
    int pointers = 1 + argv.size() + 1 + envp.size() + 1 + 2 * aux.length;
    long stringsStart = (STACK_TOP - 16 - strings) & ~15L;
    long sp = (stringsStart - 8L * pointers) & ~15L;
    int size = (int) (STACK_TOP - sp);
    MemorySegment img = MemorySegment.ofArray(new byte[size]);
    long at = stringsStart;
    long[] argvAddr = new long[argv.size()];
    long[] envAddr = new long[envp.size()];
    for (int i = 0; i < argv.size(); i++) {
      argvAddr[i] = at;
      at = putString(img, sp, at, argv.get(i));
    }
    for (int i = 0; i < envp.size(); i++) {
      envAddr[i] = at;
      at = putString(img, sp, at, envp.get(i));
    }
    long execfnAddr = at;
    at = putString(img, sp, at, execfn);
    long platformAddr = at;
    at = putString(img, sp, at, platform);
    long randomAddr = at;
    MemorySegment.copy(MemorySegment.ofArray(random), 0, img, at - sp, 16);
    long p = sp;
    img.set(LONG, p - sp, argv.size());
    p += 8;
    for (long a : argvAddr) {
      img.set(LONG, p - sp, a);
      p += 8;
    }
    p += 8; // NULL
    for (long e : envAddr) {
      img.set(LONG, p - sp, e);
      p += 8;
    }
    p += 8; // NULL
    for (long[] pair : aux) {
      long value = switch ((int) pair[0]) {
        case AT_RANDOM -> randomAddr;
        case AT_PLATFORM -> platformAddr;
        case AT_EXECFN -> execfnAddr;
        default -> pair[1];
      };
      img.set(LONG, p - sp, pair[0]);
      img.set(LONG, p - sp + 8, value);
      p += 16;
    }
    mem.write(sp, img, 0, size);
    return sp;
  }

  private static long putString(MemorySegment img, long sp, long at, byte[] s) {
    MemorySegment.copy(MemorySegment.ofArray(s), 0, img, at - sp, s.length);
    return at + s.length + 1;
  }
}
