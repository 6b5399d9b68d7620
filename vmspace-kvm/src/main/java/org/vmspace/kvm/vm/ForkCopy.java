package org.vmspace.kvm.vm;

import org.vmspace.api.Errno;
import org.vmspace.kvm.paging.Pte;
import org.vmspace.kvm.paging.Revocation;

/**
 * Fork of one address space: the child gets every mapping, shares the shared ones and shares
 * each private page read-only until one side writes; one rewrite of the parent's tables both
 * downgrades its writable private leaves and installs the same leaves in the child's.
 */
final class ForkCopy {
  private final Vmspace vm;

  ForkCopy(Vmspace vm) {
    this.vm = vm;
  }

  // ---------------------------------------------------------------- fork

  /**
   * A copy-on-write copy of this address space under {@code childId}: every mapping is copied;
   * shared ones share their pages; private pages are shared read-only by both until one writes
   * (the parent's writable entries are downgraded from the guest before this returns).
   *
   * @throws VmFailure EINVAL while on MAP_VPAGETABLE tables; ENOMEM without memory for the
   *     child's tables
   */
  Vmspace fork(long childId) {
    vm.lock.lock();
    try {
      vm.checkAlive();
      if (vm.vpage != null) {
        throw new VmFailure(Errno.EINVAL, "an address space on its MAP_VPAGETABLE tables cannot be forked");
      }
      Vmspace child = Vmspace.create(childId, vm.space);
      for (VmEntry e : vm.map.entries()) {
        VmEntry copy = e.piece(e.start, e.end, e.prot);
        if (e.object != null) {
          e.object.addMapping();
        }
        child.map.insert(copy);
      }
      Revocation parentDowngrades = new Revocation();
      boolean[] failed = {false};
      vm.tables.revokeRange(0, 1L << 47, (va, leaf, out) -> {
        VmEntry e = vm.map.find(va);
        long frame = Pte.address(leaf);
        boolean cow = !e.isShared() && (leaf & Pte.RW) != 0;
        long shared = cow ? leaf & ~(Pte.RW | Pte.D) : leaf;
        if (!failed[0]) {
          vm.space.retain(frame);
          if (!child.tables.install(va, shared)) {
            failed[0] = true;
            Revocation undo = new Revocation();
            vm.space.release(frame, undo);
            vm.revoke(undo);
          }
        }
        return shared;
      }, parentDowngrades);
      vm.revoke(parentDowngrades);
      if (failed[0]) {
        child.destroy();
        throw new VmFailure(Errno.ENOMEM, "no memory for the child's page tables");
      }
      return child;
    } finally {
      vm.lock.unlock();
    }
  }
}
