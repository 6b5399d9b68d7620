package org.vmspace.kvm.paging;

import java.util.ArrayList;
import java.util.List;
import org.vmspace.api.Trap;

/**
 * The reference model of a user-mode access under x86-64 4-level paging, after the Intel SDM
 * (vol. 3A, 4.5-4.8) and the AMD APM (vol. 2, 5.3-5.6), in the form kvm-unit-tests' {@code
 * x86/access.c} checks them: the walk stops at the first entry that is not present or has a
 * reserved bit set; otherwise the U/S and R/W bits of every level are ANDed and the NX bits
 * ORed; a protection key may refuse a data access. A successful access sets the accessed bit of
 * every entry it used and the dirty bit of its leaf on a write; an access that faults leaves
 * the leaf PTE as it was and may or may not set the accessed bit of the entries above it.
 *
 * <p>Pure Java: it reads the tables through a {@link TableMemory} and needs no KVM. It walks
 * with the same {@link TableWalker} the service's own page tables use.
 */
public final class AccessModel {
  private final TableWalker walker;
  private final PagingControls controls;

  /**
   * @param memory where the tables are (physical addresses are offsets into it)
   * @param controls the processor state
   */
  public AccessModel(TableMemory memory, PagingControls controls) {
    this.walker = new TableWalker(memory);
    this.controls = controls;
  }

  /** The processor state the model assumes. */
  public PagingControls controls() {
    return controls;
  }

  /**
   * The reserved bits of a present {@code entry} at {@code level} under these controls: address
   * bits at and above MAXPHYADDR, NX without EFER.NXE, PS in a PML4E, and the low address bits of
   * a large page (20:13 of a 2 MiB leaf, 29:13 of a 1 GiB leaf).
   */
  public long reservedBits(int level, long entry) {
    long reserved = controls.reservedAddressBits();
    if (!controls.nxe()) {
      reserved |= Pte.NX;
    }
    if (level == 4) {
      reserved |= Pte.PS;
    } else if (level == 3 && (entry & Pte.PS) != 0) {
      reserved |= 0x3FFF_E000L;
    } else if (level == 2 && (entry & Pte.PS) != 0) {
      reserved |= 0x1F_E000L;
    }
    return reserved;
  }

  /**
   * What a user-mode {@code access} to {@code va} does on the tables under {@code cr3}.
   *
   * @throws IllegalArgumentException if {@code va} is not canonical (that is a #GP, not a page
   *     fault)
   */
  public Outcome userAccess(long cr3, long va, Access access) {
    if (!Pte.isCanonical(va)) {
      throw new IllegalArgumentException("0x" + Long.toHexString(va) + " is not canonical: #GP, not #PF");
    }
    List<long[]> path = new ArrayList<>(4);
    walker.walk(cr3, va, (entryVa, level, entryGpa, entry) -> {
      path.add(new long[] {level, entryGpa, entry});
      if (!Pte.isPresent(entry) || (entry & reservedBits(level, entry)) != 0) {
        return TableWalker.Next.STOP;
      }
      return TableWalker.Next.DESCEND;
    });
    long[] last = path.get(path.size() - 1);
    int lastLevel = (int) last[0];
    long lastEntry = last[2];
    int error = Trap.PF_USER;
    if (access == Access.WRITE) {
      error |= Trap.PF_WRITE;
    }
    if (access == Access.EXECUTE && controls.nxe()) {
      error |= Trap.PF_INSTR;
    }
    if (!Pte.isPresent(lastEntry)) {
      return fault(path, error);
    }
    if ((lastEntry & reservedBits(lastLevel, lastEntry)) != 0) {
      return fault(path, error | Trap.PF_PRESENT | Trap.PF_RSVD);
    }
    boolean user = true;
    boolean writable = true;
    boolean executable = true;
    for (long[] step : path) {
      user &= (step[2] & Pte.US) != 0;
      writable &= (step[2] & Pte.RW) != 0;
      executable &= !controls.nxe() || (step[2] & Pte.NX) == 0;
    }
    boolean denied = !user
        || (access == Access.WRITE && !writable)
        || (access == Access.EXECUTE && !executable);
    if (denied) {
      return fault(path, error | Trap.PF_PRESENT);
    }
    if (controls.pke() && access != Access.EXECUTE) {
      int key = (int) ((lastEntry >>> 59) & 15);
      boolean accessDisabled = (controls.pkru() >>> (2 * key) & 1) != 0;
      boolean writeDisabled = (controls.pkru() >>> (2 * key + 1) & 1) != 0;
      if (accessDisabled || (access == Access.WRITE && writeDisabled)) {
        return fault(path, error | Trap.PF_PRESENT | Outcome.PF_PK);
      }
    }
    List<Outcome.Step> steps = new ArrayList<>(path.size());
    for (long[] step : path) {
      long after = step[2] | Pte.A;
      if (step == last && access == Access.WRITE) {
        after |= Pte.D;
      }
      steps.add(new Outcome.Step((int) step[0], step[1], step[2], after, 0));
    }
    long pageMask = Pte.span(lastLevel) - 1;
    long physical = (lastEntry & Pte.ADDRESS_MASK & ~pageMask) | (va & pageMask);
    return new Outcome(false, 0, physical, steps);
  }

  /**
   * A faulting access: nothing changes, except that the accessed bit of a present entry above
   * the PTE level may be set (processors differ; kvm-unit-tests' access.c ignores it too).
   */
  private static Outcome fault(List<long[]> path, int error) {
    List<Outcome.Step> steps = new ArrayList<>(path.size());
    for (long[] step : path) {
      int level = (int) step[0];
      boolean maySetAccessed = level > 1 && Pte.isPresent(step[2]) && (step[2] & Pte.A) == 0;
      steps.add(new Outcome.Step(level, step[1], step[2], step[2], maySetAccessed ? Pte.A : 0));
    }
    return new Outcome(true, error, -1, steps);
  }
}
