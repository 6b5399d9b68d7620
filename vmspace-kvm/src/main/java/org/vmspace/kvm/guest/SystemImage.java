package org.vmspace.kvm.guest;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.paging.Pte;

/**
 * Writes the system area of a VM's guest-physical memory: the IDT, the stubs the execution
 * flavour supplies, the kernel image's page tables (per-page permissions), the maintenance root
 * with its direct map, the user template root, and each vCPU's GDT and TSS. {@code memory} holds
 * the system area from its first byte (guest-physical {@link GuestLayout#systemBase()}).
 *
 * <p>Everything is written once, before any vCPU runs, except vCPU areas, which are written when
 * their vCPU is created. None of it is ever rewritten while a vCPU may use it.
 */
public final class SystemImage {
  /** The stubs and permissions that differ between execution flavours. */
  public interface Stubs {
    /** The code of the stub for exception {@code vector}: at most 16 bytes. */
    byte[] exceptionStub(int vector);

    /** The code of the syscall trampoline page. */
    byte[] trampoline();

    /** Whether the trampoline page must be user-accessible (the LSTAR target runs at CPL3). */
    boolean trampolineIsUser();

    /**
     * The one I/O port the TSS lets CPL3 code use (the trampoline's exit), or -1 to deny every
     * port. Every other port faults with {@code #GP}, as on real hardware.
     */
    int userIoPort();
  }

  private final GuestMemory memory;
  private final GuestLayout layout;

  public SystemImage(GuestMemory memory, GuestLayout layout) {
    this.memory = memory;
    this.layout = layout;
  }

  public GuestLayout layout() {
    return layout;
  }

  /** Writes everything but the vCPU areas. */
  public void write(Stubs stubs) {
    writeIdt();
    MemorySegment stubPage = memory.slice(GuestLayout.EXCEPTION_STUBS, GuestLayout.PAGE);
    stubPage.fill((byte) 0xCC);
    for (int v = 0; v < GuestLayout.IDT_VECTORS; v++) {
      byte[] code = stubs.exceptionStub(v);
      if (code.length > GuestLayout.EXCEPTION_STUB_SIZE) {
        throw new IllegalArgumentException("exception stub " + v + " longer than 16 bytes");
      }
      MemorySegment.copy(
          MemorySegment.ofArray(code), 0, stubPage, (long) v * GuestLayout.EXCEPTION_STUB_SIZE, code.length);
    }
    MemorySegment tramp = memory.slice(GuestLayout.TRAMPOLINE, GuestLayout.PAGE);
    tramp.fill((byte) 0xCC);
    byte[] trampoline = stubs.trampoline();
    MemorySegment.copy(MemorySegment.ofArray(trampoline), 0, tramp, 0, trampoline.length);
    writeKernelTables(stubs.trampolineIsUser());
    writeDirectMap();
    memory.writeLong(layout.userTemplateRoot() + 8L * GuestLayout.KERNEL_PML4_INDEX, kernelPml4Entry());
    memory.writeLong(layout.maintenanceRoot() + 8L * GuestLayout.KERNEL_PML4_INDEX, kernelPml4Entry());
    memory.writeLong(
        layout.maintenanceRoot() + 8L * GuestLayout.DIRECT_MAP_PML4_INDEX,
        layout.gpa(layout.directMapPdpt()) | Pte.P | Pte.RW | Pte.A);
  }

  /** The PML4 entry that maps the kernel image: every root of this VM has it at index 511. */
  public long kernelPml4Entry() {
    return layout.gpa(GuestLayout.KERNEL_PDPT) | Pte.TABLE_FLAGS;
  }

  private void writeIdt() {
    for (int v = 0; v < GuestLayout.IDT_VECTORS; v++) {
      long handler = GuestLayout.exceptionStubVa(v);
      // 64-bit interrupt gate, present; DPL 3 for int3 and into so user code may raise them.
      long type = (v == 3 || v == 4) ? 0xEE : 0x8E;
      long low =
          (handler & 0xFFFF)
              | ((long) GuestLayout.KERNEL_CS << 16)
              | (type << 40)
              | (((handler >>> 16) & 0xFFFF) << 48);
      long gate = GuestLayout.IDT + 16L * v;
      memory.writeLong(gate, low);
      memory.writeLong(gate + 8, handler >>> 32);
    }
  }

  /** Maps the system area at KERNEL_BASE with per-page permissions. */
  private void writeKernelTables(boolean trampolineIsUser) {
    memory.writeLong(GuestLayout.KERNEL_PDPT + 8L * 511, layout.gpa(GuestLayout.KERNEL_PD) | Pte.TABLE_FLAGS);
    for (int i = 0; i < layout.kernelPtCount(); i++) {
      long pt = GuestLayout.KERNEL_PTS + i * GuestLayout.PAGE;
      memory.writeLong(GuestLayout.KERNEL_PD + 8L * i, layout.gpa(pt) | Pte.TABLE_FLAGS);
    }
    for (long off = 0; off < layout.systemSize(); off += GuestLayout.PAGE) {
      long flags = kernelPageFlags(off, trampolineIsUser);
      if (flags != 0) {
        memory.writeLong(GuestLayout.KERNEL_PTS + (off / GuestLayout.PAGE) * 8, layout.gpa(off) | flags);
      }
    }
  }

  private long kernelPageFlags(long gpa, boolean trampolineIsUser) {
    long code = Pte.P | Pte.A;
    long data = Pte.P | Pte.RW | Pte.A | Pte.D | Pte.NX;
    if (gpa == GuestLayout.IDT) {
      return Pte.P | Pte.A | Pte.NX;
    }
    if (gpa == GuestLayout.EXCEPTION_STUBS) {
      return code;
    }
    if (gpa == GuestLayout.TRAMPOLINE) {
      return trampolineIsUser ? code | Pte.US : code;
    }
    if (gpa >= layout.maintenanceCode()
        && gpa < layout.maintenanceCode() + GuestLayout.MAINTENANCE_CODE_SIZE) {
      return code;
    }
    if (gpa >= layout.vcpuArea(0)
        && gpa < layout.vcpuArea(0) + layout.vcpuAreas() * GuestLayout.VCPU_AREA_SIZE) {
      return data;
    }
    // Page tables and the unused first page are walked physically, never mapped.
    return 0;
  }

  /** 2 MiB supervisor, non-executable pages over all guest-physical memory of the VM. */
  private void writeDirectMap() {
    for (int i = 0; i < layout.directMapPdCount(); i++) {
      memory.writeLong(layout.directMapPdpt() + 8L * i, layout.gpa(layout.directMapPd(i)) | Pte.P | Pte.RW | Pte.A);
    }
    long big = 2L << 20;
    for (long gpa = 0; gpa < layout.physicalEnd(); gpa += big) {
      int pd = (int) (gpa >>> 30);
      int index = (int) ((gpa >>> 21) & 511);
      memory.writeLong(
          layout.directMapPd(pd) + 8L * index,
          gpa | Pte.P | Pte.RW | Pte.A | Pte.D | Pte.PS | Pte.NX);
    }
  }

  /** Writes vCPU area {@code i}: its GDT (Linux's selectors) and a TSS whose RSP0 is its stack. */
  public void writeVcpuArea(int i, int userIoPort) {
    long area = layout.vcpuArea(i);
    MemorySegment page = memory.slice(area, GuestLayout.VCPU_AREA_SIZE);
    page.fill((byte) 0);
    long[] gdt = {
      0,
      0,
      0x00af9b000000ffffL, // 0x10 kernel code, 64-bit, DPL 0, accessed
      0x00cf93000000ffffL, // 0x18 kernel data, DPL 0, accessed
      0, // 0x23: no 32-bit user code, so a far jump cannot switch to compatibility mode
      0x00cff3000000ffffL, // 0x2b user data, DPL 3, accessed
      0x00affb000000ffffL, // 0x33 user code, 64-bit, DPL 3, accessed
      0,
    };
    for (int e = 0; e < gdt.length; e++) {
      page.set(ValueLayout.JAVA_LONG, 8L * e, gdt[e]);
    }
    long tss = tssVa(i);
    long limit = GuestLayout.TSS_LIMIT;
    long low =
        (limit & 0xFFFF)
            | ((tss & 0xFFFFFF) << 16)
            | (0x8BL << 40) // present, 64-bit TSS, busy (as loaded into TR)
            | (((tss >>> 24) & 0xFF) << 56);
    page.set(ValueLayout.JAVA_LONG, 8L * 8, low);
    page.set(ValueLayout.JAVA_LONG, 8L * 9, tss >>> 32);
    long tssOff = GuestLayout.TSS_OFFSET;
    page.set(ValueLayout.JAVA_LONG_UNALIGNED, tssOff + 4, layout.kernelStackTop(i)); // RSP0
    // The I/O permission bitmap follows the 104-byte TSS: a clear bit allows a port. Ports past
    // the TSS limit are denied; the bitmap ends with an all-ones byte as the CPU requires.
    page.set(ValueLayout.JAVA_SHORT, tssOff + 102, (short) 104);
    for (int b = 0; b < GuestLayout.IO_BITMAP_BYTES; b++) {
      page.set(ValueLayout.JAVA_BYTE, tssOff + 104 + b, (byte) 0xFF);
    }
    if (userIoPort >= 0) {
      if (userIoPort >= 8 * (GuestLayout.IO_BITMAP_BYTES - 1)) {
        throw new IllegalArgumentException("user I/O port beyond the bitmap: " + userIoPort);
      }
      page.set(ValueLayout.JAVA_BYTE, tssOff + 104 + userIoPort / 8, (byte) ~(1 << (userIoPort % 8)));
    }
  }

  /** The kernel virtual address of vCPU area {@code i}'s GDT. */
  public long gdtVa(int i) {
    return GuestLayout.kernelVa(layout.vcpuArea(i) + GuestLayout.GDT_OFFSET);
  }

  /** The kernel virtual address of vCPU area {@code i}'s TSS. */
  public long tssVa(int i) {
    return GuestLayout.kernelVa(layout.vcpuArea(i) + GuestLayout.TSS_OFFSET);
  }
}
