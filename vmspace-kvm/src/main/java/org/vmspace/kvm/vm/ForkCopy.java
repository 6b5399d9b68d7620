package org.vmspace.kvm.vm;

import static org.vmspace.kvm.vm.Vmspace.PAGE;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.vmspace.api.Errno;
import org.vmspace.kvm.config.Settings;
import org.vmspace.kvm.paging.Pte;
import org.vmspace.kvm.paging.Revocation;

/**
 * Fork of one address space: the child gets every mapping and shares the shared ones. Private
 * pages the parent owns outright (writable in its tables) are copied into the child at once, up
 * to a budget of pages per fork ({@link #budgetPages}), whole mappings smallest first, when no
 * thread runs the parent meanwhile (a single-threaded process's fork, the common case); the
 * parent keeps those writable. Every other private page is shared read-only by both until one
 * side writes; one rewrite of the parent's tables both downgrades the writable private leaves
 * that were not copied and installs the child's leaves.
 *
 * <p>Why copy: on the hypervisors this runs on, each side's first write to a shared page is a
 * demand-fault exit of 65 to 180 us, and a copy costs about a microsecond. A forked child
 * writes its stack, data, bss and small heap almost at once, and so does the parent; a large
 * heap is written sparsely, or not at all before the child's execve, and stays shared.
 */
final class ForkCopy {
  /** The system property that sets the budget: pages per fork, 0 for copy-on-write only. */
  static final String BUDGET_PROPERTY = "vmspace.forkCopyPages";
  /** The budget without the property: 512 pages, 2 MiB. */
  static final int DEFAULT_BUDGET_PAGES = 512;

  private final Vmspace vm;

  ForkCopy(Vmspace vm) {
    this.vm = vm;
  }

  /**
   * The most private pages a fork copies at once: {@code -Dvmspace.forkCopyPages} (default
   * {@value #DEFAULT_BUDGET_PAGES}), read at each fork so that a test can change it.
   *
   * @throws IllegalArgumentException if the property is negative or not a number
   */
  static int budgetPages() {
    return Settings.nonNegativeInt(BUDGET_PROPERTY, DEFAULT_BUDGET_PAGES, "pages");
  }


  // ---------------------------------------------------------------- fork

  /**
   * A copy of this address space under {@code childId}: every mapping is copied; shared ones
   * share their pages; private pages the budget covers are copied now, the rest are shared
   * read-only by both until one writes (the parent's writable entries among them are
   * downgraded from the guest before this returns). A page whose copy finds no free frame is
   * shared instead: the fork never fails for the copies.
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
      boolean window = vm.copyWindow();
      try {
        return forkLocked(child, window ? eagerEntries(budget()) : Set.of());
      } finally {
        if (window) {
          vm.closeCopyWindow();
        }
      }
    } finally {
      vm.lock.unlock();
    }
  }

  /** The rest of {@link #fork}, with the mappings {@code eager} whose owned pages are copied. */
  private Vmspace forkLocked(Vmspace child, Set<VmEntry> eager) {
    Revocation parentDowngrades = new Revocation();
    boolean[] failed = {false};
    // Leaves come in address order, so most fall in the entry of the leaf before them.
    VmEntry[] last = {null};
    vm.tables.revokeRange(0, 1L << 47, (va, leaf, out) -> {
      VmEntry e = last[0];
      if (e == null || Long.compareUnsigned(va, e.start) < 0 || Long.compareUnsigned(va, e.end) >= 0) {
        e = vm.map.find(va);
        last[0] = e;
      }
      boolean owned = !e.isShared() && (leaf & Pte.RW) != 0;
      if (failed[0]) {
        return owned ? leaf & ~(Pte.RW | Pte.D) : leaf;
      }
      if (owned && eager.contains(e) && copyInto(child, e, va, leaf, failed)) {
        return leaf; // the parent keeps its page writable: nothing to revoke
      }
      long shared = owned ? leaf & ~(Pte.RW | Pte.D) : leaf;
      if (!failed[0]) {
        share(child, va, shared, failed);
      }
      return shared;
    }, parentDowngrades);
    vm.revoke(parentDowngrades);
    if (failed[0]) {
      child.destroy();
      throw new VmFailure(Errno.ENOMEM, "no memory for the child's page tables");
    }
    return child;
  }

  /**
   * The budget for this fork: the configured one, but never more than an eighth of the frames
   * still free, so that copies made ahead of need cannot leave a later fault without memory
   * (as fault-around's growth is bounded).
   */
  private long budget() {
    long spare = (vm.space.frames().frameLimit() - vm.space.frames().framesInUse()) / 8;
    return Math.max(0, Math.min(budgetPages(), spare));
  }

  /**
   * The private mappings whose owned pages are copied: whole mappings, those with the fewest
   * owned (writable) pages first, while their sum stays within {@code budget}. A process's
   * stack, data, bss and a small heap come first; a large heap stays shared.
   */
  private Set<VmEntry> eagerEntries(long budget) {
    Set<VmEntry> chosen = Collections.newSetFromMap(new IdentityHashMap<>());
    if (budget == 0) {
      return chosen;
    }
    Map<VmEntry, Long> owned = new IdentityHashMap<>();
    for (VmEntry e : vm.map.entries()) {
      if (!e.isShared() && e.prot.canWrite()) {
        long n = ownedPages(e, budget);
        if (n > 0 && n <= budget) {
          owned.put(e, n);
        }
      }
    }
    List<VmEntry> bySize = new ArrayList<>(owned.keySet());
    bySize.sort(Comparator.comparingLong(owned::get));
    long used = 0;
    for (VmEntry e : bySize) {
      long n = owned.get(e);
      if (used + n > budget) {
        break; // the rest are larger still
      }
      used += n;
      chosen.add(e);
    }
    return chosen;
  }

  /** The entry's pages that are writable in the parent's tables, counting no further than {@code limit + 1}. */
  private long ownedPages(VmEntry e, long limit) {
    long[] n = {0};
    vm.tables.forEachLeaf(e.start, e.end, (va, leaf) -> {
      if ((leaf & Pte.RW) != 0) {
        n[0]++;
      }
      return n[0] <= limit;
    });
    return n[0];
  }

  /**
   * Gives the child its own writable copy of the parent's page at {@code va}. Returns false,
   * changing nothing, when no frame is free (the page is then shared instead); sets {@code
   * failed} when the child's tables could not take the leaf.
   */
  private boolean copyInto(Vmspace child, VmEntry e, long va, long leaf, boolean[] failed) {
    long copy = vm.space.newFrame();
    if (copy < 0) {
      return false;
    }
    // No thread runs the parent while it is copied (Vmspace.copyWindow), so the child gets the
    // page as of the fork, as Linux's shared page would give it: a memcpy racing with a writer
    // could give it a later word without an earlier one.
    MemorySegment host = vm.space.memory().host();
    MemorySegment.copy(host, Pte.address(leaf), host, copy, PAGE);
    if (!child.tables.install(va, Faults.leafFor(copy, e.prot, false))) {
      failed[0] = true;
      Revocation undo = new Revocation();
      vm.space.release(copy, undo);
      vm.revoke(undo);
    }
    return true;
  }

  /** Installs {@code leaf} in the child too, with a reference for it; sets {@code failed} without table memory. */
  private void share(Vmspace child, long va, long leaf, boolean[] failed) {
    long frame = Pte.address(leaf);
    vm.space.retain(frame);
    if (!child.tables.install(va, leaf)) {
      failed[0] = true;
      Revocation undo = new Revocation();
      vm.space.release(frame, undo);
      vm.revoke(undo);
    }
  }
}
