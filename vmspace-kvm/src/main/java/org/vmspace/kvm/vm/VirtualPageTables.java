package org.vmspace.kvm.vm;

import static org.vmspace.kvm.vm.Vmspace.PAGE;
import static org.vmspace.kvm.vm.Vmspace.PAGE_MASK;

import java.lang.foreign.MemorySegment;
import java.util.List;
import org.vmspace.api.Errno;
import org.vmspace.kvm.paging.Access;
import org.vmspace.kvm.paging.PageWalker;
import org.vmspace.kvm.paging.Pte;
import org.vmspace.kvm.paging.Revocation;
import org.vmspace.kvm.paging.TableMemory;
import org.vmspace.kvm.paging.TableWalker;
import org.vmspace.kvm.vm.Vmspace.Vpage;

/**
 * MAP_VPAGETABLE: an address space running on the caller's own x86-64 tables, set with
 * MADV_SETMAP, refreshed with MADV_INVAL (every entry of the range's walks re-stored from the
 * guest), read and written through by {@code pread}/{@code pwrite}, and left when the tables'
 * mapping goes.
 */
final class VirtualPageTables {
  private final Vmspace vm;

  VirtualPageTables(Vmspace vm) {
    this.vm = vm;
  }

  /** Drops the caller's tables: stops runs on them before anything they map is released. */
  void leaveVpage() {
    vm.vpage = null;
    vm.space.stopRuns(List.copyOf(vm.vpageRunners));
  }

  /**
   * MADV_SETMAP: the caller's x86-64 tables in the memory object mapped MAP_VPAGETABLE over the
   * range become this address space's: {@code value}'s frame is the root (an offset in the
   * object), its PWT/PCD bits go into CR3, and the hardware walks them from the next run. Entry
   * 511 of the root is reserved for the service's kernel image (it must be 0 or already that).
   */
  void setmap(long start, long end, long value) {
    ServiceMemoryObject object = null;
    boolean any = false;
    for (VmEntry e = vm.map.firstEndingAfter(start);
        e != null && Long.compareUnsigned(e.start, end) < 0;
        e = vm.map.next(e)) {
      if (!e.isVpagetable() || (object != null && e.object != object)) {
        throw new VmFailure(Errno.EINVAL, "MADV_SETMAP on a range that is not MAP_VPAGETABLE");
      }
      object = (ServiceMemoryObject) e.object;
      any = true;
    }
    if (!any) {
      throw new VmFailure(Errno.EINVAL, "MADV_SETMAP on a range that is not MAP_VPAGETABLE");
    }
    long root = value & Pte.ADDRESS_MASK;
    if (root + PAGE > object.size()) {
      throw new VmFailure(Errno.EINVAL, "root 0x" + Long.toHexString(root) + " is outside the memory object");
    }
    ExecutionDomain domain = vm.space.vpageDomain(object);
    long reserved = root + 8L * 511;
    long current = domain.tableMemory().read(reserved);
    long kernel = domain.kernelPml4Entry();
    if (current != 0 && current != kernel) {
      throw new VmFailure(Errno.EINVAL, "entry 511 of the root is reserved for the service");
    }
    if (current == 0) {
      domain.tableMemory().write(reserved, kernel); // not present -> present: seen without help
    }
    Vpage old = vm.vpage;
    vm.vpage = new Vpage(domain, root | (value & (Pte.PWT | Pte.PCD)), object);
    if (old != null && old.domain() != domain) {
      vm.space.stopRuns(List.copyOf(vm.vpageRunners));
    }
  }

  /**
   * MADV_INVAL on the caller's tables: every entry on the walk of every page of the range is
   * stored again, from the guest, with its current value, so that a shadow-paging host drops the
   * old translations (a host-side change of a present entry is otherwise never seen). Entries
   * above a non-present one are stored once for the whole span they cover.
   */
  void invalidate(long start, long end) {
    Vpage v = vm.vpage;
    if (v == null || start == end) {
      return;
    }
    Revocation r = new Revocation();
    TableMemory tables = v.domain().tableMemory();
    new TableWalker(tables).walk(v.cr3(), start, end, new TableWalker.Restore(tables, r));
    // Counted like the service's own revocations: a batch of guest-side stores.
    if (r.storeCount() > 0) {
      vm.counters.revocation();
    }
    v.domain().revoke(r);
  }
  /** pread/pwrite on the caller's tables: their translations and permissions, no faults resolved. */
  long copyThroughCallerTables(Vpage v, MemorySegment buffer, long len, long addr, boolean write) {
    PageWalker walker = new PageWalker(v.domain().tableMemory());
    MemorySegment object = v.object().segment();
    long done = 0;
    while (done < len) {
      long va = addr + done;
      long chunk = Math.min(len - done, PAGE - (va & PAGE_MASK));
      PageWalker.Translation t = walker.walk(v.cr3(), va);
      if (!t.permits(write ? Access.WRITE : Access.READ)) {
        break;
      }
      long pa = t.physical(va);
      if (pa < 0 || pa + chunk > object.byteSize()) {
        break; // outside the object: nothing is there
      }
      MemoryCopy.transfer(buffer, done, object, pa, chunk, write);
      done += chunk;
    }
    return done;
  }
}
