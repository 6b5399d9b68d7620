package org.vmspace.vkernel.mem;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.anyInt;
import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.clearInvocations;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.mockito.AdditionalAnswers;
import org.vmspace.api.Madvise;
import org.vmspace.api.Prot;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceService;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;
import org.vmspace.vkernel.testing.ModelVmspaceService;

/**
 * Linux's madvise arguments become the vmspace advice they stand for, on exactly the mapped
 * parts of the range; the checks and errnos are Linux's. The service is a model wrapped in a
 * Mockito delegate, to see which mcontrol calls reach it (what the advice does to faults is
 * vmspace-kvm's FaultAroundTest).
 */
class MadviseTest {
  private static final long PAGE = 4096;
  private static final long BASE = 0x1000_0000L;
  private static final VmspaceId ID = VmspaceId.of(3);

  private VmspaceService vms;
  private AddressSpace as;

  @BeforeEach
  void setUp() {
    vms = mock(VmspaceService.class, AdditionalAnswers.delegatesTo(new ModelVmspaceService(64L << 20)));
    as = AddressSpace.create(vms, ID);
    as.mmap(BASE, 16 * PAGE, Prot.PROT_READ | Prot.PROT_WRITE,
        AddressSpace.MAP_PRIVATE | AddressSpace.MAP_ANONYMOUS | AddressSpace.MAP_FIXED, null, 0, "");
    clearInvocations(vms);
  }

  @AfterEach
  void tearDown() {
    as.release();
  }

  @Test
  void linuxHugePageAdviceBecomesTheVmspaceAdvice() {
    as.madvise(BASE, 4 * PAGE, AddressSpace.LINUX_MADV_HUGEPAGE);
    verify(vms).mcontrol(ID, BASE, 4 * PAGE, Madvise.MADV_HUGEPAGE, 0);
    as.madvise(BASE + PAGE, 100, AddressSpace.LINUX_MADV_NOHUGEPAGE);
    verify(vms).mcontrol(ID, BASE + PAGE, PAGE, Madvise.MADV_NOHUGEPAGE, 0);
    as.madvise(BASE, PAGE, 4);
    verify(vms).mcontrol(ID, BASE, PAGE, Madvise.MADV_DONTNEED, 0);
    clearInvocations(vms);
    as.madvise(BASE, PAGE, 10); // MADV_DONTFORK: accepted, nothing for the vmspace to do
    as.madvise(BASE, PAGE, 12); // MADV_MERGEABLE: the same
    verify(vms, never()).mcontrol(eq(ID), anyLong(), anyLong(), anyInt(), anyLong());
  }

  @Test
  void adviceOverAHoleAppliesToTheMappedPartsThenFailsWithEnomem() {
    as.munmap(BASE + 4 * PAGE, 4 * PAGE);
    clearInvocations(vms);
    assertThatThrownBy(() -> as.madvise(BASE, 12 * PAGE, AddressSpace.LINUX_MADV_HUGEPAGE))
        .isInstanceOfSatisfying(SyscallError.class, e -> assertThat(e.errno()).isEqualTo(LinuxErrno.ENOMEM));
    verify(vms).mcontrol(ID, BASE, 4 * PAGE, Madvise.MADV_HUGEPAGE, 0);
    verify(vms).mcontrol(ID, BASE + 8 * PAGE, 4 * PAGE, Madvise.MADV_HUGEPAGE, 0);
    assertThatThrownBy(() -> as.madvise(BASE + 4 * PAGE, PAGE, 0))
        .isInstanceOfSatisfying(SyscallError.class, e -> assertThat(e.errno()).isEqualTo(LinuxErrno.ENOMEM));
  }

  @Test
  void badArgumentsAreEinvalBeforeAnythingIsAdvised() {
    for (long[] bad : new long[][] {{BASE + 1, PAGE, 14}, {BASE, -1L, 14}, {BASE, PAGE, -1}, {BASE, PAGE, 201},
        {-PAGE, 2 * PAGE, 4}}) {
      assertThatThrownBy(() -> as.madvise(bad[0], bad[1], (int) bad[2]))
          .as("madvise(0x%x, 0x%x, %d)", bad[0], bad[1], bad[2])
          .isInstanceOfSatisfying(SyscallError.class, e -> assertThat(e.errno()).isEqualTo(LinuxErrno.EINVAL));
    }
    as.madvise(BASE + 64 * PAGE, 0, 4); // an empty range is fine, even unmapped
    verify(vms, never()).mcontrol(eq(ID), anyLong(), anyLong(), anyInt(), anyLong());
  }
}
