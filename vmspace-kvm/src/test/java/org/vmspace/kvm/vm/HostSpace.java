package org.vmspace.kvm.vm;

import java.util.Collection;
import org.vmspace.kvm.memory.FrameAllocator;
import org.vmspace.kvm.memory.FrameRefs;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.paging.Revocation;
import org.vmspace.kvm.paging.TableMemory;

/**
 * A physical space on the host alone, for tests of the service's memory logic without a guest:
 * a memfd of {@code memoryBytes}, frames above a 2 MiB system area up to {@code limitBytes}, and
 * revocations applied directly (no vCPU runs, so a store is a plain write and a freed frame is
 * free at once). The page tables the service writes are exactly those a guest would run on.
 */
final class HostSpace implements PhysicalSpace, AutoCloseable {
  /** Frames below this are not the allocator's (the system area of a real context). */
  static final long SYSTEM = 2L << 20;

  private final GuestMemory memory;
  private final FrameAllocator frames;
  private final FrameRefs refs;
  private final TableMemory tables;

  HostSpace(String name, long memoryBytes, long limitBytes) {
    memory = GuestMemory.create(name, memoryBytes);
    frames = new FrameAllocator(memory, SYSTEM, memoryBytes, limitBytes);
    refs = new FrameRefs(SYSTEM, memoryBytes);
    tables = TableMemory.in(memory, frames);
  }

  @Override
  public GuestMemory memory() {
    return memory;
  }

  @Override
  public FrameAllocator frames() {
    return frames;
  }

  @Override
  public FrameRefs refs() {
    return refs;
  }

  @Override
  public TableMemory tableMemory() {
    return tables;
  }

  @Override
  public long templateRoot() {
    return 0; // page 0 of the system area: zero, no kernel half
  }

  @Override
  public ExecutionDomain vpageDomain(ServiceMemoryObject object) {
    throw new UnsupportedOperationException("no MAP_VPAGETABLE on the host alone");
  }

  @Override
  public void stopRuns(Collection<Thread> runners) {}

  @Override
  public void revoke(Revocation r) {
    for (int i = 0; i < r.storeCount(); i++) {
      memory.writeLong(r.entryGpa(i), r.value(i));
    }
    for (int i = 0; i < r.releaseCount(); i++) {
      if (refs.release(r.release(i))) {
        frames.free(r.release(i));
      }
    }
    if (r.frameCount() > 0) {
      frames.free(r.frames(), r.frameCount());
    }
  }

  @Override
  public void close() {
    memory.close();
  }
}
