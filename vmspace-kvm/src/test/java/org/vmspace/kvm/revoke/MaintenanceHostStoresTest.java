package org.vmspace.kvm.revoke;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.vmspace.kvm.memory.FrameAllocator;
import org.vmspace.kvm.memory.FrameRefs;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.paging.Revocation;
import org.vmspace.kvm.paging.TableMemory;

/**
 * Revocations made by host-side stores (nested paging): every store lands, the last one to an
 * entry last, before the shootdown; frames are freed only after the shootdown; no vCPU is run.
 * (The guest-side path runs a vCPU and is covered by the KVM tests.)
 */
class MaintenanceHostStoresTest {
  private static final long SIZE = 2L << 20;
  private final GuestMemory memory = GuestMemory.create("maintenance-test", SIZE);
  private final FrameAllocator frames = new FrameAllocator(memory, 0, SIZE, SIZE);
  private final FrameRefs refs = new FrameRefs(0, SIZE);
  private final TableMemory tables = TableMemory.in(memory, frames);

  @AfterEach
  void close() {
    memory.close();
  }

  @Test
  void storesLandInOrderBeforeTheShootdownAndFramesAreFreedAfterIt() {
    long table = frames.allocate();
    long data = frames.allocate();
    refs.init(data);
    tables.write(table, 0x1234_0027L);
    tables.write(table + 8, 0x5678_0027L);
    long inUse = frames.framesInUse();
    List<String> seenAtShootdown = new ArrayList<>();
    Maintenance m = new Maintenance(null, memory, null, frames, refs, () -> {
      seenAtShootdown.add(Long.toHexString(tables.read(table)) + " " + Long.toHexString(tables.read(table + 8)));
      seenAtShootdown.add("in use " + frames.framesInUse());
    }, tables);
    Revocation r = new Revocation();
    r.store(table, 0x1234_0025L);
    r.store(table + 8, 0);
    r.store(table, 0); // the last store to an entry wins
    r.freeAfter(table);
    r.releaseAfter(data);
    m.apply(r);
    assertThat(seenAtShootdown).containsExactly("0 0", "in use " + inUse);
    assertThat(frames.framesInUse()).isEqualTo(inUse - 2);
  }

  @Test
  void aRevocationWithoutStoresNeedsNoShootdown() {
    long data = frames.allocate();
    refs.init(data);
    int[] shootdowns = {0};
    Maintenance m = new Maintenance(null, memory, null, frames, refs, () -> shootdowns[0]++, tables);
    Revocation r = new Revocation();
    r.releaseAfter(data);
    long inUse = frames.framesInUse();
    m.apply(r);
    assertThat(shootdowns[0]).isZero();
    assertThat(frames.framesInUse()).isEqualTo(inUse - 1);
  }

  @Test
  void hostStoresWithoutAShootdownAreRefused() {
    assertThatThrownBy(() -> new Maintenance(null, memory, null, frames, refs, null, tables))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
