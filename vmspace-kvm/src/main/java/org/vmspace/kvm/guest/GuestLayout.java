package org.vmspace.kvm.guest;

/**
 * Where the system area lives in guest-physical memory and in every address space.
 *
 * <p>The system area starts at guest-physical {@link #systemBase()}: 0 in a context's main VM,
 * where the frames handed out for page tables and user memory follow it, and above the memory
 * object in a {@code MAP_VPAGETABLE} VM, where the object sits at 0. Offsets below (and the
 * constants of this class) are relative to the system area's start; {@link #gpa(long)} turns
 * one into a guest-physical address. The system area is mapped in the upper half of every
 * address space at {@link #KERNEL_BASE} ({@code va = KERNEL_BASE + offset}), supervisor-only
 * except the syscall trampoline page, which the execution flavour may need user-executable.
 * The maintenance vCPU's root additionally maps all guest-physical memory of the VM ({@code [0,
 * physicalEnd)}), supervisor-only and not executable, at {@link #DIRECT_MAP_BASE}, so that its
 * stub can store into any page-table entry; user address spaces never map it.
 *
 * <pre>
 * offset 0x0000  unused (never mapped)
 *     0x1000  IDT (32 gates)
 *     0x2000  exception stubs, 16 bytes per vector
 *     0x3000  syscall trampoline page
 *     0x4000  kernel PDPT, then kernel PD, then kernel PTs
 *     ...     user template PML4, maintenance root PML4, direct-map PDPT and PDs
 *     ...     maintenance code buffer
 *     ...     per-vCPU areas: GDT + TSS page, kernel stack page
 *     (2 MiB aligned end)
 * </pre>
 */
public final class GuestLayout {
  public static final long PAGE = 4096;
  /** Virtual address of guest-physical 0 in the kernel image: PML4[511], PDPT[511]. */
  public static final long KERNEL_BASE = 0xFFFF_FFFF_C000_0000L;
  /** Virtual address of guest-physical 0 in the maintenance root's direct map: PML4[256]. */
  public static final long DIRECT_MAP_BASE = 0xFFFF_8000_0000_0000L;
  public static final int KERNEL_PML4_INDEX = 511;
  public static final int DIRECT_MAP_PML4_INDEX = 256;

  public static final long IDT = 0x1000;
  public static final int IDT_VECTORS = 32;
  public static final long EXCEPTION_STUBS = 0x2000;
  public static final int EXCEPTION_STUB_SIZE = 16;
  public static final long TRAMPOLINE = 0x3000;
  public static final long KERNEL_PDPT = 0x4000;
  public static final long KERNEL_PD = 0x5000;
  public static final long KERNEL_PTS = 0x6000;

  /** Bytes of generated maintenance code per run. */
  public static final long MAINTENANCE_CODE_SIZE = 64 * 1024;
  /** GDT at the start of a vCPU area, TSS after it. */
  public static final long GDT_OFFSET = 0;
  public static final int GDT_ENTRIES = 10;
  public static final long TSS_OFFSET = 0x80;
  /** Bytes of I/O permission bitmap after the TSS (ports 0..31, then the closing 0xFF byte). */
  public static final int IO_BITMAP_BYTES = 5;
  /** The TSS limit: 104 bytes of TSS plus the I/O permission bitmap, minus one. */
  public static final int TSS_LIMIT = 104 + IO_BITMAP_BYTES - 1;
  public static final long VCPU_AREA_SIZE = 2 * PAGE;

  // Selectors: Linux's layout.
  public static final int KERNEL_CS = 0x10;
  public static final int KERNEL_DS = 0x18;
  /** SYSRET's selector base in STAR (no descriptor: compatibility mode is not offered). */
  public static final int USER_CS32 = 0x23;
  public static final int USER_DS = 0x2b;
  public static final int USER_CS = 0x33;
  public static final int TSS_SELECTOR = 0x40;

  // I/O ports the stubs use to exit.
  public static final int PORT_SYSCALL = 0x10;
  public static final int PORT_EXCEPTION = 0x11;
  public static final int PORT_MAINTENANCE = 0x13;

  private final long systemBase;
  private final long physicalEnd;
  private final int vcpuAreas;
  private final int kernelPtCount;
  private final long userTemplateRoot;
  private final long maintenanceRoot;
  private final long directMapPdpt;
  private final long directMapPds;
  private final int directMapPdCount;
  private final long maintenanceCode;
  private final long vcpuAreasStart;
  private final long systemSize;

  /**
   * @param systemBase the guest-physical address of the system area (2 MiB aligned)
   * @param physicalEnd the end of the VM's guest-physical memory the direct map covers
   * @param vcpuAreas how many vCPU areas to reserve (user vCPUs plus the maintenance vCPU)
   */
  public GuestLayout(long systemBase, long physicalEnd, int vcpuAreas) {
    if (systemBase % (2L << 20) != 0) {
      throw new IllegalArgumentException("system base must be 2 MiB aligned: " + systemBase);
    }
    this.systemBase = systemBase;
    this.physicalEnd = physicalEnd;
    this.vcpuAreas = vcpuAreas;
    this.directMapPdCount = (int) ((physicalEnd + (1L << 30) - 1) >>> 30);
    if (directMapPdCount > 512) {
      throw new IllegalArgumentException("guest memory above 512 GiB is not supported");
    }
    // The system size depends on the kernel PT count and vice versa: iterate to a fixed point.
    int pts = 1;
    long size;
    long after;
    while (true) {
      after = KERNEL_PTS + pts * PAGE;
      long root = after + PAGE;
      long dmPdpt = root + PAGE;
      long dmPds = dmPdpt + PAGE;
      long code = dmPds + directMapPdCount * PAGE;
      long areas = code + MAINTENANCE_CODE_SIZE;
      size = roundUp(areas + (long) vcpuAreas * VCPU_AREA_SIZE, 2L << 20);
      int needed = (int) ((size / PAGE + 511) / 512);
      if (needed <= pts) {
        break;
      }
      pts = needed;
    }
    this.kernelPtCount = pts;
    this.userTemplateRoot = after;
    this.maintenanceRoot = after + PAGE;
    this.directMapPdpt = maintenanceRoot + PAGE;
    this.directMapPds = directMapPdpt + PAGE;
    this.maintenanceCode = directMapPds + directMapPdCount * PAGE;
    this.vcpuAreasStart = maintenanceCode + MAINTENANCE_CODE_SIZE;
    this.systemSize = size;
    if (systemSize > (1L << 30)) {
      throw new IllegalArgumentException("system area above 1 GiB: too many vCPUs");
    }
  }

  private static long roundUp(long v, long to) {
    return (v + to - 1) / to * to;
  }

  /** The kernel-image virtual address of a system-area offset. */
  public static long kernelVa(long offset) {
    return KERNEL_BASE + offset;
  }

  /** The guest-physical address of a system-area offset. */
  public long gpa(long offset) {
    return systemBase + offset;
  }

  /** The guest-physical address of the system area. */
  public long systemBase() {
    return systemBase;
  }

  /** The exit RIP range start of the stub for exception {@code vector}. */
  public static long exceptionStubVa(int vector) {
    return kernelVa(EXCEPTION_STUBS + (long) vector * EXCEPTION_STUB_SIZE);
  }

  /** The vector whose exception stub starts at {@code va}, or -1 if none does. */
  public static int exceptionVectorAt(long va) {
    long offset = va - exceptionStubVa(0);
    if (offset < 0 || offset % EXCEPTION_STUB_SIZE != 0 || offset / EXCEPTION_STUB_SIZE >= IDT_VECTORS) {
      return -1;
    }
    return (int) (offset / EXCEPTION_STUB_SIZE);
  }

  /** The end of the guest-physical memory the direct map covers. */
  public long physicalEnd() {
    return physicalEnd;
  }

  /** The size of the system area (2 MiB aligned). */
  public long systemSize() {
    return systemSize;
  }

  public int kernelPtCount() {
    return kernelPtCount;
  }

  /** A PML4 holding only the upper-half entries every user address space shares. */
  public long userTemplateRoot() {
    return userTemplateRoot;
  }

  /** The maintenance vCPU's PML4: the kernel image and the direct map. */
  public long maintenanceRoot() {
    return maintenanceRoot;
  }

  public long directMapPdpt() {
    return directMapPdpt;
  }

  public long directMapPd(int i) {
    return directMapPds + i * PAGE;
  }

  public int directMapPdCount() {
    return directMapPdCount;
  }

  public long maintenanceCode() {
    return maintenanceCode;
  }

  public int vcpuAreas() {
    return vcpuAreas;
  }

  /** The guest-physical address of vCPU area {@code i} (its GDT page). */
  public long vcpuArea(int i) {
    if (i < 0 || i >= vcpuAreas) {
      throw new IllegalArgumentException("no vCPU area " + i);
    }
    return vcpuAreasStart + i * VCPU_AREA_SIZE;
  }

  /** The top of vCPU area {@code i}'s kernel stack, as a kernel virtual address (TSS.RSP0). */
  public long kernelStackTop(int i) {
    return kernelVa(vcpuArea(i) + VCPU_AREA_SIZE);
  }
}
