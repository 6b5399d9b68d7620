package org.vmspace.kvm.vm;

import org.vmspace.kvm.memory.FrameAllocator;
import org.vmspace.kvm.memory.FrameRefs;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.paging.Revocation;
import org.vmspace.kvm.paging.TableMemory;

/**
 * What address spaces need from their context: guest memory, frames with reference counts,
 * table memory, and the execution flavour's way of applying a {@link Revocation}.
 */
public interface PhysicalSpace {
  GuestMemory memory();

  FrameAllocator frames();

  FrameRefs refs();

  TableMemory tableMemory();

  /** The guest-physical address of the PML4 template new address spaces copy their upper half from. */
  long templateRoot();

  /**
   * The VM in which address spaces whose {@code MAP_VPAGETABLE} mapping of {@code object} has a
   * root run, created on first use; it lives as long as the object's pages.
   */
  ExecutionDomain vpageDomain(ServiceMemoryObject object);

  /** Stops every run of guests on these threads and returns once none is inside the guest. */
  void stopRuns(java.util.Collection<Thread> runners);

  /**
   * Applies every store of the revocation so that no vCPU, running or not, can use the old
   * translations, then frees its frames. Returns only when both are done.
   */
  void revoke(Revocation revocation);

  /**
   * A new zeroed frame with a reference count of 1.
   *
   * @return its address, or -1 over the memory limit
   */
  default long newFrame() {
    long f = frames().allocate();
    if (f >= 0) {
      refs().init(f);
    }
    return f;
  }

  /**
   * Up to {@code count} new zeroed frames, each with a reference count of 1, allocated at once.
   *
   * @param out receives their addresses, from index 0
   * @return how many: fewer than {@code count} at the memory limit
   */
  default int newFrames(long[] out, int count) {
    int n = frames().allocate(out, count);
    for (int i = 0; i < n; i++) {
      refs().init(out[i]);
    }
    return n;
  }

  /** Adds a reference to a frame (a no-op for frames of other slots, which are not counted). */
  default void retain(long frame) {
    if (refs().covers(frame)) {
      refs().retain(frame);
    }
  }

  /**
   * Drops a reference once the revocation's stores are made (see {@link
   * Revocation#releaseAfter}); a frame left unreferenced is then freed.
   */
  default void release(long frame, Revocation revocation) {
    if (refs().covers(frame)) {
      revocation.releaseAfter(frame);
    }
  }

  /**
   * Whether the frame is referenced only once (so it may be written in place). References that
   * revocations in flight will drop still count: the answer errs towards copying.
   */
  default boolean soleReference(long frame) {
    return refs().covers(frame) && refs().count(frame) == 1;
  }
}
