package org.vmspace.kvm.service;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;
import org.vmspace.kvm.guest.GuestLayout;
import org.vmspace.kvm.ioctl.KvmRun;
import org.vmspace.kvm.ioctl.KvmSregs;

/** The return to user mode's segment copy writes what field-by-field stores of them would. */
class UserSegmentsTest {
  @Test
  void theCopiedSegmentsAreTheUserCodeAndStackSegmentsAndNothingElseChanges() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment copied = arena.allocate(4096, 8).fill((byte) 0x5A);
      MemorySegment stored = arena.allocate(4096, 8).fill((byte) 0x5A);
      FrameRegisters.toUserSegments(new KvmRun(copied));
      long b = KvmRun.SYNC_SREGS;
      KvmSregs.setSegment(stored, b, KvmSregs.CS, 0, 0xFFFFFFFF, GuestLayout.USER_CS, 11, 3, true, true, false, true);
      KvmSregs.setSegment(stored, b, KvmSregs.SS, 0, 0xFFFFFFFF, GuestLayout.USER_DS, 3, 3, true, false, true, true);
      // The copy also zeroes each kvm_segment's padding byte, which KVM ignores.
      stored.set(ValueLayout.JAVA_BYTE, b + KvmSregs.CS + 23, (byte) 0);
      stored.set(ValueLayout.JAVA_BYTE, b + KvmSregs.SS + 23, (byte) 0);
      assertThat(copied.mismatch(stored)).isEqualTo(-1);
      assertThat(KvmSregs.selector(copied, b, KvmSregs.CS)).isEqualTo(GuestLayout.USER_CS);
      assertThat(KvmSregs.selector(copied, b, KvmSregs.SS)).isEqualTo(GuestLayout.USER_DS);
    }
  }
}
