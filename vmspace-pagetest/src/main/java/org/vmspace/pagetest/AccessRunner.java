package org.vmspace.pagetest;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;
import org.vmspace.api.Errno;
import org.vmspace.api.Madvise;
import org.vmspace.api.MapFlags;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.Prot;
import org.vmspace.api.RunResult;
import org.vmspace.api.Trap;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceService;

/**
 * Runs one user-mode access at a time on the machine, through the caller's page tables: a
 * vmspace of its own maps the memory object {@code MAP_SHARED | MAP_VPAGETABLE}, {@code
 * MADV_SETMAP}s the builder's root, and each {@link #run(UserAccess)} enters the guest at a tiny
 * code page of the runner's own, which does the access and then a {@code syscall}:
 *
 * <pre>
 *   read:   mov rax, [rdi]; syscall     48 8b 07 0f 05
 *   write:  mov [rdi], rax; syscall     48 89 07 0f 05
 *   fetch:  jmp rdi                     ff e7   (0f 05 placed at the target, see below)
 * </pre>
 *
 * <p>The code page is a frame from the builder's table region mapped at {@link #CODE_VA}, in
 * root slot {@value #CODE_SLOT} (user, read-only, executable), so the tested addresses must stay
 * out of that slot. For a fetch the runner writes {@code syscall} (0f 05) at the target's
 * physical address when the tables translate it (ignoring permissions), so a successful fetch
 * shows as that system call, and puts the two bytes back afterwards. A write stores {@link
 * #WRITE_VALUE}. Before every access it calls {@code MADV_INVAL} over the accessed page, so edits
 * of present entries on its walk take effect on every kind of host.
 *
 * <p>Guarantees: the result's {@link MachineResult#kind()} is {@code FAULTED} only for a page
 * fault at the access's own instruction with CR2 the accessed address, {@code COMPLETED} only for
 * the system call right after it; anything else is {@code UNEXPECTED}. Errors of the service
 * ({@link VmspaceException}) propagate. Not thread-safe; one runner per vmspace, closed with
 * {@link #close()} (which destroys its vmspace, not the service or the object).
 */
public final class AccessRunner implements AutoCloseable {
  /** The root slot of the runner's code page. */
  public static final int CODE_SLOT = 254;
  /** Where the code page is: {@code 0x7f0000000000}. */
  public static final long CODE_VA = (long) CODE_SLOT << 39;
  /** Where the vmspace maps the memory object (a placeholder range: the tables translate everything). */
  public static final long OBJECT_VA = 253L << 39;
  /** What a write stores. */
  public static final long WRITE_VALUE = 0x5752_4954_4553_4B54L;
  /** How long one access may run before it is reported as unexpected. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

  private static final int READ_AT = 0;
  private static final int WRITE_AT = 16;
  private static final int FETCH_AT = 32;
  private static final byte[] CODE = {
    0x48, (byte) 0x8b, 0x07, 0x0f, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x48, (byte) 0x89, 0x07, 0x0f, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    (byte) 0xff, (byte) 0xe7,
  };
  private static final AtomicLong IDS = new AtomicLong(0x7a6b0000L);

  private final VmspaceService service;
  private final MemoryObject memory;
  private final PageTableBuilder tables;
  private final VmspaceId id;
  private final long codeFrame;
  private Duration timeout = DEFAULT_TIMEOUT;
  private boolean closed;

  /**
   * Creates the runner's vmspace on {@code memory}'s tables: allocates and maps the code page
   * through {@code tables}, maps the object {@code MAP_VPAGETABLE} and sets the root.
   *
   * @param tables a builder over {@code memory.segment()} (the same bytes)
   * @throws IllegalArgumentException if the builder does not write into this object's memory,
   *     or root slot {@value #CODE_SLOT} is already used
   * @throws VmspaceException if the service refuses the vmspace, the mapping or the root
   */
  public AccessRunner(VmspaceService service, MemoryObject memory, PageTableBuilder tables) {
    this.service = Objects.requireNonNull(service, "service");
    this.memory = Objects.requireNonNull(memory, "memory");
    this.tables = Objects.requireNonNull(tables, "tables");
    MemorySegment seg = memory.segment();
    if (tables.memory().address() != seg.address() || tables.memory().byteSize() != seg.byteSize()) {
      throw new IllegalArgumentException("the builder writes into other memory than the object's segment");
    }
    if (tables.entry(CODE_VA, Level.PML4E) != 0) {
      throw new IllegalArgumentException("root slot " + CODE_SLOT + " is the runner's, but it holds "
          + Bits.describe(tables.entry(CODE_VA, Level.PML4E)));
    }
    // The code page: its own tables under slot 254, user, read-only, executable.
    long frame = tables.allocateFrame();
    MemorySegment.copy(MemorySegment.ofArray(CODE), 0, seg, frame, CODE.length);
    this.codeFrame = frame;
    // map() refuses frames in the table region: the runner writes its path by hand, under
    // tables of its own (index 0 at every level below the root).
    long tableEntry = Bits.P | Bits.RW | Bits.US | Bits.A;
    long pdpt = tables.allocateFrame();
    long pd = tables.allocateFrame();
    long pt = tables.allocateFrame();
    seg.set(ValueLayout.JAVA_LONG, tables.root() + 8L * CODE_SLOT, pdpt | tableEntry);
    seg.set(ValueLayout.JAVA_LONG, pdpt, pd | tableEntry);
    seg.set(ValueLayout.JAVA_LONG, pd, pt | tableEntry);
    seg.set(ValueLayout.JAVA_LONG, pt, frame | Bits.P | Bits.US | Bits.A);
    this.id = newVmspace(service);
    try {
      service.mmap(id, OBJECT_VA, seg.byteSize(), Prot.PROT_READ | Prot.PROT_WRITE,
          MapFlags.MAP_SHARED | MapFlags.MAP_VPAGETABLE | MapFlags.MAP_FIXED, memory, 0);
      service.mcontrol(id, OBJECT_VA, seg.byteSize(), Madvise.MADV_SETMAP, tables.root());
    } catch (RuntimeException e) {
      service.destroy(id);
      throw e;
    }
  }

  private static VmspaceId newVmspace(VmspaceService service) {
    while (true) {
      VmspaceId id = VmspaceId.of(IDS.incrementAndGet());
      try {
        service.create(id);
        return id;
      } catch (VmspaceException e) {
        if (e.errno() != Errno.EEXIST) {
          throw e;
        }
      }
    }
  }

  /** The vmspace the accesses run in. */
  public VmspaceId vmspace() {
    return id;
  }

  /** The physical address of the runner's code page (in the builder's table region). */
  public long codeFrame() {
    return codeFrame;
  }

  /**
   * Sets how long one access may run before it counts as {@link MachineResult.Kind#UNEXPECTED}.
   *
   * @throws IllegalArgumentException if not positive
   */
  public AccessRunner timeout(Duration timeout) {
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout " + timeout + " is not positive");
    }
    this.timeout = timeout;
    return this;
  }

  /**
   * Runs {@code access} once on the machine: {@code MADV_INVAL} of its page, then the access at
   * CPL3, and reads the walk of its address back from memory.
   *
   * @throws IllegalArgumentException if the address is in the runner's slot {@value #CODE_SLOT}
   *     or at or above {@link VmspaceService#VM_MAX_USER_ADDRESS} (the service's own slot 511
   *     among them)
   * @throws IllegalStateException if the runner is closed
   * @throws VmspaceException if the service fails the calls
   */
  public MachineResult run(UserAccess access) {
    if (closed) {
      throw new IllegalStateException("the runner is closed");
    }
    long va = access.va();
    int slot = Level.PML4E.index(va);
    if (slot == CODE_SLOT) {
      throw new IllegalArgumentException(access + " is in root slot " + slot + ", the runner's code");
    }
    if (Long.compareUnsigned(va, VmspaceService.VM_MAX_USER_ADDRESS) >= 0) {
      throw new IllegalArgumentException(access + " is at or above VM_MAX_USER_ADDRESS 0x"
          + Long.toHexString(VmspaceService.VM_MAX_USER_ADDRESS) + ", where MADV_INVAL cannot reach");
    }
    MemorySegment seg = memory.segment();
    long patched = -1;
    short savedBytes = 0;
    if (access.type() == UserAccess.Type.FETCH) {
      OptionalLong pa = tables.physicalAddress(va);
      if (pa.isPresent() && Long.compareUnsigned(pa.getAsLong() + 2, seg.byteSize()) <= 0) {
        patched = pa.getAsLong();
        savedBytes = seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, patched);
        seg.set(ValueLayout.JAVA_SHORT_UNALIGNED, patched, (short) 0x050f); // 0f 05: syscall
      }
    }
    try {
      // Every entry on the walk is stored again through the guest; entries that lead outside
      // the object (an address bit at or above MAXPHYADDR, a table past it) are fine: the
      // service stores only inside the object.
      service.mcontrol(id, va & ~0xFFFL, 4096, Madvise.MADV_INVAL, 0);
      return execute(access);
    } finally {
      if (patched >= 0) {
        seg.set(ValueLayout.JAVA_SHORT_UNALIGNED, patched, savedBytes);
      }
    }
  }

  private MachineResult execute(UserAccess access) {
    long va = access.va();
    long at = CODE_VA + switch (access.type()) {
      case READ -> READ_AT;
      case WRITE -> WRITE_AT;
      case FETCH -> FETCH_AT;
    };
    TrapFrame f = new TrapFrame().rip(at).rsp(0).rflags(0x202).rdi(va).rax(WRITE_VALUE);
    RunResult why = service.run(id, f, new VextFrame(), timeout);
    int trapno = (int) f.trapno();
    int err = (int) f.err();
    long cr2 = f.addr();
    long rip = f.rip();
    // Where the access's instruction is, and where the syscall after it leaves RIP.
    long faultRip = access.type() == UserAccess.Type.FETCH ? va : at;
    long doneRip = access.type() == UserAccess.Type.FETCH ? va + 2 : at + 5;
    MachineResult.Kind kind;
    String detail = MachineResult.trapText(trapno, err, cr2, rip);
    if (why == RunResult.TIMEOUT || why == RunResult.INTERRUPTED) {
      kind = MachineResult.Kind.UNEXPECTED;
      detail = "the run ended " + why + " after " + timeout + " (" + detail + ")";
    } else if (trapno == Trap.T_FAST_SYSCALL && rip == doneRip) {
      kind = MachineResult.Kind.COMPLETED;
      detail = "completed: " + detail;
    } else if (trapno == Trap.T_PAGEFLT && rip == faultRip && cr2 == va) {
      kind = MachineResult.Kind.FAULTED;
    } else {
      kind = MachineResult.Kind.UNEXPECTED;
      String where = Long.compareUnsigned(rip - CODE_VA, 4096) < 0 ? " (in the runner's code page)" : "";
      detail = "unexpected: " + detail + where + ", run result " + why;
    }
    long value = kind == MachineResult.Kind.COMPLETED && access.type() == UserAccess.Type.READ ? f.rax() : 0;
    return new MachineResult(access, kind, why, trapno, kind == MachineResult.Kind.COMPLETED ? 0 : err,
        trapno == Trap.T_PAGEFLT ? cr2 : 0, rip, value, tables.walk(va), detail, null);
  }

  /** Destroys the runner's vmspace; idempotent. The service and the memory object stay open. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      service.destroy(id);
    }
  }
}
