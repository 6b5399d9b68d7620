package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmspace.kvm.testing.GuestFixture.at;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.vmspace.api.Madvise;
import org.vmspace.api.Prot;
import org.vmspace.api.RunResult;
import org.vmspace.api.Trap;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceOptions;
import org.vmspace.kvm.testing.GuestFixture;
import org.vmspace.kvm.testing.Heartbeat;
import org.vmspace.kvm.testing.KvmTests;

/**
 * After munmap, a protection downgrade, MADV_DONTNEED, destroy or frame reuse, no vCPU uses
 * the old translation. Each test touches the memory from the guest first, so that KVM holds a
 * translation to revoke, and then makes the old translation observable: the memory stays
 * alive (a memory object), or its frames are reused with other bytes. With host-side
 * page-table edits alone, every one of them fails on this project's machines.
 */
@Tag("kvm")
@Tag("shadow-paging")
class RevocationTest {
  private static final long DATA = 0x6000_0000L;
  private static final int RW = Prot.PROT_READ | Prot.PROT_WRITE;

  private static void guestWrite(GuestFixture g, VmspaceId id, long va, long value) {
    TrapFrame f = at("write_report").rbx(va).rdi(value);
    assertThat(g.run(id, f, new VextFrame())).isEqualTo(RunResult.SYSCALL);
  }

  private static TrapFrame guestRead(GuestFixture g, VmspaceId id, long va) {
    TrapFrame f = at("do_read").rbx(va);
    g.run(id, f, new VextFrame());
    return f;
  }

  @Test
  void munmapThenTheGuestReadsTheAddressFaults() {
    try (GuestFixture g = new GuestFixture()) {
      VmspaceId id = g.space(1);
      g.anon(id, DATA, 4 * 4096, RW);
      for (int p = 0; p < 4; p++) {
        guestWrite(g, id, DATA + p * 4096L + 8, 0xC0DE + p);
      }
      g.vms.munmap(id, DATA + 4096, 2 * 4096);
      for (int p = 0; p < 4; p++) {
        TrapFrame f = guestRead(g, id, DATA + p * 4096L + 8);
        if (p == 1 || p == 2) {
          assertThat(f.trapno()).as("page %d", p).isEqualTo(Trap.T_PAGEFLT);
          assertThat(f.addr()).isEqualTo(DATA + p * 4096L + 8);
          assertThat(f.err()).isEqualTo(Trap.PF_USER);
        } else {
          TrapFrame r = at("read_report").rbx(DATA + p * 4096L + 8);
          assertThat(g.run(id, r, new VextFrame())).as("page %d", p).isEqualTo(RunResult.SYSCALL);
          assertThat(r.rdi()).as("page %d keeps its bytes", p).isEqualTo(0xC0DE + p);
        }
      }
    }
  }

  @Test
  void munmapOfSharedMemoryThatStaysAliveFaults() {
    try (GuestFixture g = new GuestFixture()) {
      VmspaceId id = g.space(1);
      try (var obj = g.vms.createMemoryObject(4096)) {
        obj.segment().set(ValueLayout.JAVA_LONG, 0, 0xA11CE);
        g.vms.mmap(id, DATA, 4096, RW, org.vmspace.api.MapFlags.MAP_SHARED | org.vmspace.api.MapFlags.MAP_FIXED, obj, 0);
        TrapFrame r = at("read_report").rbx(DATA);
        assertThat(g.run(id, r, new VextFrame())).isEqualTo(RunResult.SYSCALL);
        assertThat(r.rdi()).isEqualTo(0xA11CE);
        g.vms.munmap(id, DATA, 4096);
        TrapFrame f = guestRead(g, id, DATA);
        assertThat(f.trapno()).as("the object still exists; the mapping does not").isEqualTo(Trap.T_PAGEFLT);
        assertThat(f.addr()).isEqualTo(DATA);
      }
    }
  }

  @Test
  void sharedMemoryRemappedReadOnlyCannotBeWritten() {
    try (GuestFixture g = new GuestFixture()) {
      VmspaceId id = g.space(1);
      try (var obj = g.vms.createMemoryObject(4096)) {
        int shared = org.vmspace.api.MapFlags.MAP_SHARED | org.vmspace.api.MapFlags.MAP_FIXED;
        g.vms.mmap(id, DATA, 4096, RW, shared, obj, 0);
        guestWrite(g, id, DATA, 0x1111);
        g.vms.munmap(id, DATA, 4096);
        g.vms.mmap(id, DATA, 4096, Prot.PROT_READ, shared, obj, 0);
        TrapFrame w = at("do_write").rbx(DATA).rax(0x2222);
        assertThat(g.run(id, w, new VextFrame())).isEqualTo(RunResult.PAGEFAULT);
        assertThat(w.err() & Trap.PF_WRITE).isEqualTo(Trap.PF_WRITE);
        assertThat(obj.segment().get(ValueLayout.JAVA_LONG, 0)).isEqualTo(0x1111);
        TrapFrame r = at("read_report").rbx(DATA);
        assertThat(g.run(id, r, new VextFrame())).isEqualTo(RunResult.SYSCALL);
        assertThat(r.rdi()).isEqualTo(0x1111);
      }
    }
  }

  @Test
  void remappedReadOnlyTheGuestCannotWrite() {
    try (GuestFixture g = new GuestFixture()) {
      VmspaceId id = g.space(1);
      g.anon(id, DATA, 4096, RW);
      guestWrite(g, id, DATA, 0x1111);
      g.vms.munmap(id, DATA, 4096);
      g.anon(id, DATA, 4096, Prot.PROT_READ);
      TrapFrame w = at("do_write").rbx(DATA).rax(0x2222);
      assertThat(g.run(id, w, new VextFrame())).isEqualTo(RunResult.PAGEFAULT);
      assertThat(w.addr()).isEqualTo(DATA);
      assertThat(w.err() & Trap.PF_WRITE).isEqualTo(Trap.PF_WRITE);
      assertThat(g.peek(id, DATA)).as("a fresh page, not the old one").isZero();
    }
  }

  @Test
  void dontneedOnAnonymousPrivateMemoryReadsBackZero() {
    try (GuestFixture g = new GuestFixture()) {
      VmspaceId id = g.space(1);
      g.anon(id, DATA, 8 * 4096, RW);
      for (int p = 0; p < 8; p++) {
        guestWrite(g, id, DATA + p * 4096L, 0x5EC2E7 + p);
      }
      g.vms.mcontrol(id, DATA, 8 * 4096, Madvise.MADV_DONTNEED, 0);
      // The freed frames are handed out again at once and filled with other bytes.
      long other = DATA + 0x100_0000L;
      g.anon(id, other, 64 * 4096, RW);
      byte[] secret = new byte[64 * 4096];
      java.util.Arrays.fill(secret, (byte) 0x77);
      assertThat(g.vms.pwrite(id, MemorySegment.ofArray(secret), secret.length, 0, other)).isEqualTo(secret.length);
      for (int p = 0; p < 8; p++) {
        TrapFrame f = at("read_report").rbx(DATA + p * 4096L);
        assertThat(g.run(id, f, new VextFrame())).isEqualTo(RunResult.SYSCALL);
        assertThat(f.rdi()).as("page %d", p).isZero();
      }
    }
  }

  @Test
  void framesFreedByOneVmspaceAndReusedByAnotherAreNeverReachable() {
    // A tight limit forces B to reuse A's frames.
    VmspaceOptions tight = VmspaceOptions.builder().memoryLimit(24L << 20).maxVcpus(2).build();
    try (GuestFixture g = new GuestFixture(KvmTests.open(tight))) {
      VmspaceId a = g.space(1);
      VmspaceId b = g.space(2);
      long size = 8L << 20;
      g.anon(a, DATA, size, RW);
      TrapFrame touch = at("touch_pages").rbx(DATA).rcx(size / 4096);
      assertThat(g.run(a, touch, new VextFrame())).isEqualTo(RunResult.SYSCALL);
      g.vms.munmap(a, DATA, size);
      // B fills the frames A gave back with a secret.
      g.anon(b, DATA, 12L << 20, RW);
      byte[] secret = new byte[4096];
      java.util.Arrays.fill(secret, (byte) 0x5A);
      for (long off = 0; off < (12L << 20); off += 4096) {
        assertThat(g.vms.pwrite(b, MemorySegment.ofArray(secret), 4096, 0, DATA + off)).isEqualTo(4096);
      }
      // A's old translations are gone: every page faults, none shows B's bytes.
      for (long off = 0; off < size; off += 64 * 4096) {
        TrapFrame f = guestRead(g, a, DATA + off);
        assertThat(f.trapno()).as("A at +0x%x", off).isEqualTo(Trap.T_PAGEFLT);
      }
      // B gives its memory back, A maps fresh memory: zeros, never the secret.
      g.vms.destroy(b);
      g.anon(a, DATA, size, RW);
      TrapFrame sum = at("touch_pages").rbx(DATA).rcx(size / 4096);
      assertThat(g.run(a, sum, new VextFrame())).isEqualTo(RunResult.SYSCALL);
      assertThat(sum.rdi()).as("sum of the first byte of every page").isZero();
    }
  }

  @Test
  void destroyedVmspacesFramesComeBackZeroToTheNextOne() {
    VmspaceOptions tight = VmspaceOptions.builder().memoryLimit(16L << 20).maxVcpus(2).build();
    try (GuestFixture g = new GuestFixture(KvmTests.open(tight))) {
      long size = 8L << 20;
      for (int round = 0; round < 4; round++) {
        VmspaceId id = g.space(10 + round);
        g.anon(id, DATA, size, RW);
        TrapFrame sum = at("touch_pages").rbx(DATA).rcx(size / 4096);
        assertThat(g.run(id, sum, new VextFrame())).isEqualTo(RunResult.SYSCALL);
        assertThat(sum.rdi()).as("round %d reads the previous round's bytes", round).isZero();
        g.vms.destroy(id);
      }
    }
  }

  @Test
  void aVcpuRunningTheSameVmspaceOnAnotherThreadLosesTheTranslation() throws Exception {
    try (GuestFixture g = new GuestFixture()) {
      VmspaceId id = g.space(1);
      var obj = g.vms.createMemoryObject(4096);
      obj.segment().set(ValueLayout.JAVA_LONG, 0, 42);
      g.vms.mmap(id, DATA, 4096, RW, org.vmspace.api.MapFlags.MAP_SHARED | org.vmspace.api.MapFlags.MAP_FIXED, obj, 0);
      try (Heartbeat beat = new Heartbeat(g.vms, id)) {
        AtomicReference<TrapFrame> result = new AtomicReference<>();
        // Reads DATA and counts, with no exit: once the count moves, the translation is in use.
        Thread reader = Thread.ofPlatform().start(() -> {
          TrapFrame f = at("read_spin_beat").rbx(DATA).rcx(Heartbeat.ADDRESS);
          g.run(id, f, new VextFrame());
          result.set(f);
        });
        assertThat(beat.await(1000, () -> !reader.isAlive())).as("the guest read the page").isTrue();
        long start = System.nanoTime();
        g.vms.munmap(id, DATA, 4096);
        reader.join(TimeUnit.SECONDS.toMillis(5 * KvmTests.timeScale()));
        assertThat(reader.isAlive()).as("the spinning guest never faulted").isFalse();
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(result.get().trapno()).isEqualTo(Trap.T_PAGEFLT);
        assertThat(result.get().addr()).isEqualTo(DATA);
        assertThat(ms).as("fault arrived %d ms after munmap", ms).isLessThan(2000 * KvmTests.timeScale());
      }
    }
  }

  @Test
  void copyOnWriteUpgradeIsSeenByTheGuest() {
    try (GuestFixture g = new GuestFixture()) {
      VmspaceId id = g.space(1);
      try (var obj = g.vms.createMemoryObject(4096)) {
        obj.segment().set(ValueLayout.JAVA_LONG, 0, 0x0B7EC7);
        g.vms.mmap(id, DATA, 4096, RW, org.vmspace.api.MapFlags.MAP_PRIVATE | org.vmspace.api.MapFlags.MAP_FIXED, obj, 0);
        TrapFrame r = at("read_report").rbx(DATA);
        assertThat(g.run(id, r, new VextFrame())).isEqualTo(RunResult.SYSCALL);
        assertThat(r.rdi()).isEqualTo(0x0B7EC7); // mapped read-only to the object's page
        guestWrite(g, id, DATA, 0x9999); // copy on write: a present entry changes
        TrapFrame again = at("read_report").rbx(DATA);
        assertThat(g.run(id, again, new VextFrame())).isEqualTo(RunResult.SYSCALL);
        assertThat(again.rdi()).isEqualTo(0x9999);
        assertThat(obj.segment().get(ValueLayout.JAVA_LONG, 0)).as("the object is untouched").isEqualTo(0x0B7EC7);
      }
    }
  }
}
