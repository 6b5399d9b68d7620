package org.vmspace.kvm.testing;

import java.lang.foreign.ValueLayout;
import java.util.function.BooleanSupplier;
import org.vmspace.api.MapFlags;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.Prot;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceService;

/**
 * A page shared between the test and a guest (a memory object mapped at {@link #ADDRESS}) into
 * which the {@code spin_beat} and {@code read_spin_beat} guests count their rounds. A test that
 * must act while a guest runs waits for the count to move, not for a fixed time: that holds on a
 * loaded machine and under emulation alike. Close it after the test.
 */
public final class Heartbeat implements AutoCloseable {
  /** Where the page is mapped in the guest (pass it in rcx). */
  public static final long ADDRESS = 0x6800_0000L;

  private final MemoryObject page;

  /** Maps a fresh page read-write and shared at {@link #ADDRESS} in {@code id}. */
  public Heartbeat(VmspaceService vms, VmspaceId id) {
    page = vms.createMemoryObject(4096);
    vms.mmap(id, ADDRESS, 4096, Prot.PROT_READ | Prot.PROT_WRITE, MapFlags.MAP_SHARED | MapFlags.MAP_FIXED, page, 0);
  }

  /** The guest's count so far. */
  public long count() {
    return page.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
  }

  /**
   * Waits until the count reaches {@code atLeast}, or {@code runEnded} says the run is over.
   *
   * @return whether the count reached it (false: the run ended first)
   */
  public boolean await(long atLeast, BooleanSupplier runEnded) throws InterruptedException {
    while (count() < atLeast) {
      if (runEnded.getAsBoolean()) {
        return count() >= atLeast;
      }
      Thread.sleep(1);
    }
    return true;
  }

  @Override
  public void close() {
    page.close();
  }
}
