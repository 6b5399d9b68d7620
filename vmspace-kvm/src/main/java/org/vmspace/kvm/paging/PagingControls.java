package org.vmspace.kvm.paging;

/**
 * The processor state that decides how user-mode accesses are checked under 4-level paging
 * (CR0.WP only matters to supervisor writes, SMEP and SMAP only to supervisor accesses, so none
 * of them appear here).
 *
 * @param nxe EFER.NXE: bit 63 of an entry is NX; without it bit 63 is reserved
 * @param pke CR4.PKE: bits 62:59 of a user leaf name a protection key checked against {@code
 *     pkru}; without it they are ignored
 * @param pkru the PKRU register: for key {@code k}, bit {@code 2k} disables data access, bit
 *     {@code 2k+1} disables writes
 * @param maxPhysAddr MAXPHYADDR (CPUID 0x80000008 EAX[7:0]): address bits from here to 51 are
 *     reserved in every present entry
 * @throws IllegalArgumentException if {@code maxPhysAddr} is not in 32..52
 */
public record PagingControls(boolean nxe, boolean pke, int pkru, int maxPhysAddr) {
  public PagingControls {
    if (maxPhysAddr < 32 || maxPhysAddr > 52) {
      throw new IllegalArgumentException("MAXPHYADDR " + maxPhysAddr + " is not in 32..52");
    }
  }

  /** What the service's guests run with: EFER.NXE on, CR4.PKE off. */
  public static PagingControls guest(int maxPhysAddr) {
    return new PagingControls(true, false, 0, maxPhysAddr);
  }

  /** The reserved address bits {@code [maxPhysAddr, 52)} as a mask. */
  public long reservedAddressBits() {
    return maxPhysAddr == 52 ? 0 : ((1L << 52) - 1) & ~((1L << maxPhysAddr) - 1);
  }
}
