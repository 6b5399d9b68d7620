package org.vmspace.kvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Collection;
import org.junit.jupiter.api.Test;
import org.vmspace.kvm.memory.FrameAllocator;
import org.vmspace.kvm.memory.FrameRefs;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.paging.Revocation;
import org.vmspace.kvm.paging.TableMemory;

/**
 * A reference dropped into a revocation is dropped only when the revocation is applied: two
 * address spaces releasing one shared frame must not let the first revocation applied free it
 * while the other's translation still stands. (That revocations apply stores before they drop
 * references is RevocationTest's and Maintenance's part.)
 */
class DeferredReleaseTest {
  private static final long FRAME = 0x10_0000;
  private final FrameRefs refs = new FrameRefs(0, 0x100_0000);

  private final PhysicalSpace space = new PhysicalSpace() {
    @Override
    public GuestMemory memory() {
      throw new UnsupportedOperationException();
    }

    @Override
    public FrameAllocator frames() {
      throw new UnsupportedOperationException();
    }

    @Override
    public FrameRefs refs() {
      return refs;
    }

    @Override
    public TableMemory tableMemory() {
      throw new UnsupportedOperationException();
    }

    @Override
    public long templateRoot() {
      throw new UnsupportedOperationException();
    }

    @Override
    public ExecutionDomain vpageDomain(ServiceMemoryObject object) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void stopRuns(Collection<Thread> runners) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void revoke(Revocation revocation) {
      throw new UnsupportedOperationException();
    }
  };

  @Test
  void releasingASharedFrameTwiceLeavesTheCountToTheRevocations() {
    refs.init(FRAME);
    space.retain(FRAME); // parent and child both map it
    Revocation child = new Revocation();
    Revocation parent = new Revocation();
    space.release(FRAME, child);
    space.release(FRAME, parent);
    assertThat(refs.count(FRAME)).as("nothing dropped before the stores").isEqualTo(2);
    assertThat(space.soleReference(FRAME)).isFalse();
    assertThat(child.releaseCount()).isEqualTo(1);
    assertThat(child.release(0)).isEqualTo(FRAME);
    assertThat(child.frameCount()).as("nothing freed by building a revocation").isZero();
    assertThat(child.isEmpty()).isFalse();
    assertThat(parent.releaseCount()).isEqualTo(1);
  }

  @Test
  void framesOfOtherSlotsAreNotCounted() {
    Revocation r = new Revocation();
    space.release(0x200_0000, r);
    assertThat(r.isEmpty()).isTrue();
  }
}
