package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmspace.kvm.testing.GuestFixture.at;

import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.vmspace.api.MapFlags;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.Prot;
import org.vmspace.api.RunResult;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceId;
import org.vmspace.kvm.testing.GuestFixture;

/** A memory object mapped shared in two vmspaces and seen by the caller: one set of bytes. */
@Tag("kvm")
class SharedMemoryTest {
  private static final int RW = Prot.PROT_READ | Prot.PROT_WRITE;
  private static final int SHARED_FIXED = MapFlags.MAP_SHARED | MapFlags.MAP_FIXED;

  private static long guestRead(GuestFixture g, VmspaceId id, long va) {
    TrapFrame f = at("read_report").rbx(va);
    assertThat(g.run(id, f, new VextFrame())).isEqualTo(RunResult.SYSCALL);
    return f.rdi();
  }

  private static void guestWrite(GuestFixture g, VmspaceId id, long va, long value) {
    TrapFrame f = at("write_report").rbx(va).rdi(value);
    assertThat(g.run(id, f, new VextFrame())).isEqualTo(RunResult.SYSCALL);
  }

  @Test
  void writesAreVisibleInBothVmspacesAndToTheCaller() {
    try (GuestFixture g = new GuestFixture()) {
      VmspaceId a = g.space(1);
      VmspaceId b = g.space(2);
      try (MemoryObject obj = g.vms.createMemoryObject(3 * 4096)) {
        // Different addresses and offsets in each vmspace: the object's page 1 is shared.
        g.vms.mmap(a, 0x6000_0000L, 3 * 4096, RW, SHARED_FIXED, obj, 0);
        g.vms.mmap(b, 0x5000_0000L, 2 * 4096, RW, SHARED_FIXED, obj, 4096);
        guestWrite(g, a, 0x6000_1008L, 0xAAAA);
        assertThat(guestRead(g, b, 0x5000_0008L)).isEqualTo(0xAAAA);
        assertThat(obj.segment().get(ValueLayout.JAVA_LONG, 4096 + 8)).isEqualTo(0xAAAA);
        guestWrite(g, b, 0x5000_1010L, 0xBBBB);
        assertThat(guestRead(g, a, 0x6000_2010L)).isEqualTo(0xBBBB);
        obj.segment().set(ValueLayout.JAVA_LONG, 4096 + 8, 0xCCCC);
        assertThat(guestRead(g, a, 0x6000_1008L)).isEqualTo(0xCCCC);
        assertThat(guestRead(g, b, 0x5000_0008L)).isEqualTo(0xCCCC);
        assertThat(g.peek(b, 0x5000_1010L)).isEqualTo(0xBBBB);
      }
      // Closing the handle leaves the mappings working.
      guestWrite(g, a, 0x6000_1008L, 0xDDDD);
      assertThat(guestRead(g, b, 0x5000_0008L)).isEqualTo(0xDDDD);
    }
  }

  @Test
  void privateMappingsOfTheObjectCopyOnWriteAndSeeItUntilThen() {
    try (GuestFixture g = new GuestFixture()) {
      VmspaceId a = g.space(1);
      VmspaceId b = g.space(2);
      try (MemoryObject obj = g.vms.createMemoryObject(4096)) {
        obj.segment().set(ValueLayout.JAVA_LONG, 0, 1);
        g.vms.mmap(a, 0x6000_0000L, 4096, RW, MapFlags.MAP_PRIVATE | MapFlags.MAP_FIXED, obj, 0);
        g.vms.mmap(b, 0x6000_0000L, 4096, RW, SHARED_FIXED, obj, 0);
        assertThat(guestRead(g, a, 0x6000_0000L)).isEqualTo(1);
        guestWrite(g, b, 0x6000_0000L, 2);
        assertThat(guestRead(g, a, 0x6000_0000L)).as("unwritten private page shows the object").isEqualTo(2);
        guestWrite(g, a, 0x6000_0000L, 3);
        assertThat(guestRead(g, b, 0x6000_0000L)).as("a private write stays private").isEqualTo(2);
        assertThat(obj.segment().get(ValueLayout.JAVA_LONG, 0)).isEqualTo(2);
        guestWrite(g, b, 0x6000_0000L, 4);
        assertThat(guestRead(g, a, 0x6000_0000L)).isEqualTo(3);
      }
    }
  }

  @Test
  void sharedAnonymousMemorySurvivesASplit() {
    try (GuestFixture g = new GuestFixture()) {
      VmspaceId a = g.space(1);
      g.vms.mmap(a, 0x6000_0000L, 4 * 4096, RW, MapFlags.MAP_SHARED | MapFlags.MAP_ANON | MapFlags.MAP_FIXED, null, 0);
      guestWrite(g, a, 0x6000_3000L, 0x77);
      g.vms.munmap(a, 0x6000_1000L, 4096);
      assertThat(guestRead(g, a, 0x6000_3000L)).isEqualTo(0x77);
      assertThat(g.peek(a, 0x6000_0000L)).isZero();
    }
  }
}
