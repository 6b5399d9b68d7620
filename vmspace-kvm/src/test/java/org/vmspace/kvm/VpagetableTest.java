package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
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
import org.vmspace.kvm.testing.GuestFixture;
import org.vmspace.kvm.testing.GuestProgram;
import org.vmspace.kvm.testing.KvmTests;

/**
 * MAP_VPAGETABLE as a DragonFly vkernel uses it: the test writes its own 4-level x86-64 tables
 * into a memory object (its "physical memory", whose offsets are physical addresses), maps the
 * object MAP_VPAGETABLE, sets the root with MADV_SETMAP, runs the guest on those tables, edits
 * entries, and makes the edits take effect with MADV_INVAL.
 */
@Tag("kvm")
@Tag("shadow-paging")
class VpagetableTest {
  private static final long P = 1;
  private static final long RW = 2;
  private static final long US = 4;
  private static final long A = 0x20;
  private static final long D = 0x40;
  private static final long NX = 1L << 63;
  // Physical layout of the object.
  private static final long ROOT = 0x0000;
  private static final long PDPT = 0x1000;
  private static final long PD = 0x2000;
  private static final long PT = 0x3000;
  private static final long TEXT = 0x10000;
  private static final long STACK = 0x20000;
  private static final long PAGE_A = 0x30000;
  private static final long PAGE_B = 0x31000;
  // Virtual layout of the guest: all within PML4[0], PDPT[0], PD[2] (0x400000..0x5FFFFF).
  private static final long VA_TEXT = 0x400000;
  private static final long VA_DATA = 0x500000;
  private static final long VA_STACK_TOP = 0x600000;
  private static final long SIZE = 1L << 20;
  private static final GuestProgram PROGRAM = GuestFixture.PROGRAM;

  private static void pte(MemoryObject obj, long va, long value) {
    obj.segment().set(ValueLayout.JAVA_LONG, PT + 8 * ((va >>> 12) & 511), value);
  }

  /** The vkernel's view: its tables and pages in its memory object. */
  private static MemoryObject vkernelMemory(VmspaceService vms) {
    MemoryObject obj = vms.createMemoryObject(SIZE);
    MemorySegment m = obj.segment();
    m.set(ValueLayout.JAVA_LONG, ROOT, PDPT | P | RW | US | A);
    m.set(ValueLayout.JAVA_LONG, PDPT, PD | P | RW | US | A);
    m.set(ValueLayout.JAVA_LONG, PD + 8 * 2, PT | P | RW | US | A);
    byte[] image = PROGRAM.image();
    MemorySegment.copy(MemorySegment.ofArray(image), 0, m, TEXT, image.length);
    pte(obj, VA_TEXT, TEXT | P | US | A); // read + execute
    pte(obj, VA_STACK_TOP - 4096, STACK | P | RW | US | A | D | NX);
    m.set(ValueLayout.JAVA_LONG, PAGE_A, 0xAAAA);
    m.set(ValueLayout.JAVA_LONG, PAGE_B, 0xBBBB);
    pte(obj, VA_DATA, PAGE_A | P | RW | US | A | D | NX);
    return obj;
  }

  /** A new vmspace running on the tables in {@code obj}: its 2 MiB MAP_VPAGETABLE, SETMAP ROOT. */
  private static VmspaceId onTheCallersTables(VmspaceService vms, MemoryObject obj) {
    VmspaceId id = VmspaceId.of(1);
    vms.create(id);
    vms.mmap(id, VA_TEXT, 0x200000, Prot.PROT_READ | Prot.PROT_WRITE,
        MapFlags.MAP_SHARED | MapFlags.MAP_VPAGETABLE | MapFlags.MAP_FIXED, obj, 0);
    vms.mcontrol(id, VA_TEXT, 0x200000, Madvise.MADV_SETMAP, ROOT);
    return id;
  }

  private static TrapFrame read(VmspaceService vms, VmspaceId id, long va) {
    TrapFrame f = new TrapFrame().rip(PROGRAM.symbol("read_report")).rsp(VA_STACK_TOP).rflags(0x202).rbx(va);
    vms.run(id, f, new VextFrame());
    return f;
  }

  @Test
  void theGuestRunsOnTheCallersTablesAndEditsTakeEffectAfterInval() {
    try (VmspaceService vms = KvmTests.open(); MemoryObject obj = vkernelMemory(vms)) {
      VmspaceId id = onTheCallersTables(vms, obj);

      TrapFrame f = read(vms, id, VA_DATA);
      assertThat(f.trapno()).as("%s", f).isEqualTo(Trap.T_FAST_SYSCALL);
      assertThat(f.rdi()).isEqualTo(0xAAAA);

      // Remap the page to B: a change of a present entry, made by the caller in its memory.
      pte(obj, VA_DATA, PAGE_B | P | RW | US | A | D | NX);
      vms.mcontrol(id, VA_DATA, 4096, Madvise.MADV_INVAL, 0);
      assertThat(read(vms, id, VA_DATA).rdi()).as("after MADV_INVAL").isEqualTo(0xBBBB);

      // Unmap it: the guest faults, and the fault is the caller's to resolve.
      pte(obj, VA_DATA, 0);
      vms.mcontrol(id, VA_DATA, 4096, Madvise.MADV_INVAL, 0);
      TrapFrame gone = read(vms, id, VA_DATA);
      assertThat(gone.trapno()).isEqualTo(Trap.T_PAGEFLT);
      assertThat(gone.addr()).isEqualTo(VA_DATA);
      assertThat(gone.err()).isEqualTo(Trap.PF_USER);

      // A not-present entry made present needs no MADV_INVAL.
      pte(obj, VA_DATA + 4096, PAGE_A | P | US | A | NX);
      assertThat(read(vms, id, VA_DATA + 4096).rdi()).isEqualTo(0xAAAA);

      // pread and pwrite go through the caller's tables and permissions.
      MemorySegment buf = MemorySegment.ofArray(new long[1]);
      assertThat(vms.pread(id, buf, 8, 0, VA_DATA + 4096)).isEqualTo(8);
      assertThat(buf.get(ValueLayout.JAVA_LONG, 0)).isEqualTo(0xAAAA);
      assertThat(vms.pwrite(id, buf, 8, 0, VA_DATA + 4096)).as("read-only entry").isZero();
      assertThat(vms.pread(id, buf, 8, 0, VA_DATA)).as("not present").isZero();

      // A write to the read-only entry faults with the present bit.
      TrapFrame w = new TrapFrame().rip(PROGRAM.symbol("do_write")).rsp(VA_STACK_TOP).rflags(0x202)
          .rbx(VA_DATA + 4096).rax(1);
      assertThat(vms.run(id, w, new VextFrame())).isEqualTo(RunResult.PAGEFAULT);
      assertThat(w.err()).isEqualTo(Trap.PF_USER | Trap.PF_WRITE | Trap.PF_PRESENT);

      // Exceptions reach the stubs in the object's VM too.
      TrapFrame ud = new TrapFrame().rip(PROGRAM.symbol("do_ud2")).rsp(VA_STACK_TOP).rflags(0x202);
      assertThat(vms.run(id, ud, new VextFrame())).isEqualTo(RunResult.TRAP);
      assertThat(ud.trapno()).isEqualTo(Trap.T_PRIVINFLT);
    }
  }

  @Test
  void manyEditsAcrossTablesTakeEffectAfterOneInvalOfTheRange() {
    try (VmspaceService vms = KvmTests.open(); MemoryObject obj = vkernelMemory(vms)) {
      VmspaceId id = onTheCallersTables(vms, obj);
      long pages = 32;
      for (long i = 0; i < pages; i++) {
        obj.segment().set(ValueLayout.JAVA_LONG, 0x40000 + i * 4096, 0x1000 + i);
        obj.segment().set(ValueLayout.JAVA_LONG, 0x80000 + i * 4096, 0x2000 + i);
        pte(obj, VA_DATA + i * 4096, (0x40000 + i * 4096) | P | US | A | NX);
      }
      for (long i = 0; i < pages; i++) {
        assertThat(read(vms, id, VA_DATA + i * 4096).rdi()).isEqualTo(0x1000 + i);
      }
      for (long i = 0; i < pages; i++) {
        pte(obj, VA_DATA + i * 4096, (0x80000 + i * 4096) | P | US | A | NX);
      }
      vms.mcontrol(id, VA_DATA, pages * 4096, Madvise.MADV_INVAL, 0);
      for (long i = 0; i < pages; i++) {
        assertThat(read(vms, id, VA_DATA + i * 4096).rdi()).as("page %d", i).isEqualTo(0x2000 + i);
      }
    }
  }

  @Test
  void setmapChecksAndUnmappingTheTablesReturnsToTheServicesOwn() {
    try (VmspaceService vms = KvmTests.open(); MemoryObject obj = vkernelMemory(vms)) {
      VmspaceId id = VmspaceId.of(1);
      vms.create(id);
      int vpt = MapFlags.MAP_SHARED | MapFlags.MAP_VPAGETABLE | MapFlags.MAP_FIXED;
      assertThatThrownBy(() -> vms.mmap(id, VA_TEXT, 4096, Prot.PROT_READ | Prot.PROT_WRITE, vpt, obj, 4096))
          .as("not at offset 0").matches(e -> ((VmspaceException) e).errno() == Errno.EINVAL);
      assertThatThrownBy(() -> vms.mmap(id, VA_TEXT, 4096, Prot.PROT_READ | Prot.PROT_WRITE,
          MapFlags.MAP_PRIVATE | MapFlags.MAP_VPAGETABLE | MapFlags.MAP_FIXED, obj, 0))
          .as("private").matches(e -> ((VmspaceException) e).errno() == Errno.EINVAL);
      vms.mmap(id, VA_TEXT, 0x200000, Prot.PROT_READ | Prot.PROT_WRITE, vpt, obj, 0);
      assertThatThrownBy(() -> vms.mcontrol(id, VA_TEXT, 4096, Madvise.MADV_SETMAP, SIZE))
          .as("root outside the object").matches(e -> ((VmspaceException) e).errno() == Errno.EINVAL);
      obj.segment().set(ValueLayout.JAVA_LONG, 0x9000 + 8 * 511, 0x1234 | P);
      assertThatThrownBy(() -> vms.mcontrol(id, VA_TEXT, 4096, Madvise.MADV_SETMAP, 0x9000))
          .as("entry 511 taken").matches(e -> ((VmspaceException) e).errno() == Errno.EINVAL);
      vms.mcontrol(id, VA_TEXT, 4096, Madvise.MADV_SETMAP, ROOT);
      assertThat(read(vms, id, VA_DATA).rdi()).isEqualTo(0xAAAA);
      // Unmapping the MAP_VPAGETABLE range drops the caller's tables: the service's own (empty
      // here) translate again.
      vms.munmap(id, VA_TEXT, 0x200000);
      TrapFrame f = read(vms, id, VA_DATA);
      assertThat(f.trapno()).isEqualTo(Trap.T_PAGEFLT);
      assertThat(f.addr()).isEqualTo(PROGRAM.symbol("read_report"));
    }
  }

  /**
   * Caller tables that map the service's own pages (above the object, at the next GiB) into a
   * guest still cannot change the exception stubs: a guest write there is refused as on any
   * read-only memory, and exceptions keep working.
   */
  @Test
  void callerTablesThatMapTheStubsCannotChangeThem() {
    try (VmspaceService vms = KvmTests.open(); MemoryObject obj = vkernelMemory(vms)) {
      VmspaceId id = onTheCallersTables(vms, obj);
      long systemBase = 1L << 30; // the object rounded up to a GiB
      long stubs = systemBase + org.vmspace.kvm.guest.GuestLayout.EXCEPTION_STUBS;
      pte(obj, VA_DATA + 0x10000, stubs | P | RW | US | A | D | NX);
      TrapFrame w = new TrapFrame().rip(PROGRAM.symbol("do_write")).rsp(VA_STACK_TOP).rflags(0x202)
          .rbx(VA_DATA + 0x10000).rax(0x0B0F0B0F0B0F0B0FL); // ud2 ud2 ud2 ud2 over the stubs
      assertThat(vms.run(id, w, new VextFrame(), java.time.Duration.ofSeconds(10)))
          .as("%s", w).isEqualTo(RunResult.TRAP);
      assertThat(w.trapno()).isEqualTo(Trap.T_PROTFLT);
      // KVM completes a write to read-only memory (dropping it) before it exits: RIP is after
      // the 3-byte mov.
      assertThat(w.rip()).isEqualTo(PROGRAM.symbol("do_write") + 3);
      TrapFrame ud = new TrapFrame().rip(PROGRAM.symbol("do_ud2")).rsp(VA_STACK_TOP).rflags(0x202);
      assertThat(vms.run(id, ud, new VextFrame(), java.time.Duration.ofSeconds(10))).isEqualTo(RunResult.TRAP);
      assertThat(ud.trapno()).isEqualTo(Trap.T_PRIVINFLT);
    }
  }

  /**
   * MADV_INVAL re-stores the entries its range's walks read, through the guest. A guest's
   * directory entry may point anywhere: past the object, with a reserved address bit, or at
   * the service's own tables above the object. Such entries lead nowhere the service may
   * store, so the re-store skips what is under them, the call succeeds, and the tables the
   * service keeps are untouched (the guest still runs and still faults as before).
   */
  @Test
  void invalOverEntriesPointingOutsideTheObjectStoresOnlyInsideIt() {
    try (VmspaceService vms = KvmTests.open(); MemoryObject obj = vkernelMemory(vms)) {
      VmspaceId id = VmspaceId.of(1);
      vms.create(id);
      vms.mmap(id, VA_TEXT, 0x800000, Prot.PROT_READ | Prot.PROT_WRITE,
          MapFlags.MAP_SHARED | MapFlags.MAP_VPAGETABLE | MapFlags.MAP_FIXED, obj, 0);
      vms.mcontrol(id, VA_TEXT, 0x800000, Madvise.MADV_SETMAP, ROOT);
      long systemBase = 1L << 30; // the object rounded up to a GiB
      MemorySegment m = obj.segment();
      m.set(ValueLayout.JAVA_LONG, PD + 8 * 3, (1L << 51) | PT | P | RW | US | A); // 0x600000
      m.set(ValueLayout.JAVA_LONG, PD + 8 * 4, 0x7000_0000L | P | RW | US | A); // 0x800000
      m.set(ValueLayout.JAVA_LONG, PD + 8 * 5, (systemBase + org.vmspace.kvm.guest.GuestLayout.KERNEL_PDPT)
          | P | RW | US | A); // 0xA00000
      assertThat(read(vms, id, VA_DATA).rdi()).isEqualTo(0xAAAA);

      vms.mcontrol(id, VA_TEXT, 0x800000, Madvise.MADV_INVAL, 0);

      assertThat(read(vms, id, VA_DATA).rdi()).as("after MADV_INVAL").isEqualTo(0xAAAA);
      TrapFrame rsvd = read(vms, id, 0x600000);
      assertThat(rsvd.trapno()).as("%s", rsvd).isEqualTo(Trap.T_PAGEFLT);
      assertThat(rsvd.err() & (Trap.PF_RSVD | Trap.PF_USER)).isEqualTo(Trap.PF_RSVD | Trap.PF_USER);
      TrapFrame ud = new TrapFrame().rip(PROGRAM.symbol("do_ud2")).rsp(VA_STACK_TOP).rflags(0x202);
      assertThat(vms.run(id, ud, new VextFrame())).isEqualTo(RunResult.TRAP);
      assertThat(ud.trapno()).isEqualTo(Trap.T_PRIVINFLT);
    }
  }

  @Test
  void theObjectsVmGoesAwayWithTheObject() throws Exception {
    try (VmspaceService vms = KvmTests.open()) {
      VmspaceId id = VmspaceId.of(1);
      vms.create(id);
      long fds = fds();
      for (int i = 0; i < 5; i++) {
        MemoryObject obj = vkernelMemory(vms);
        vms.mmap(id, VA_TEXT, 0x200000, Prot.PROT_READ | Prot.PROT_WRITE,
            MapFlags.MAP_SHARED | MapFlags.MAP_VPAGETABLE | MapFlags.MAP_FIXED, obj, 0);
        vms.mcontrol(id, VA_TEXT, 0x200000, Madvise.MADV_SETMAP, ROOT);
        assertThat(read(vms, id, VA_DATA).rdi()).isEqualTo(0xAAAA);
        vms.munmap(id, VA_TEXT, 0x200000);
        obj.close();
      }
      assertThat(fds()).isLessThanOrEqualTo(fds + 2);
    }
  }

  private static long fds() throws Exception {
    try (var s = Files.list(Path.of("/proc/self/fd"))) {
      return s.count();
    }
  }
}
