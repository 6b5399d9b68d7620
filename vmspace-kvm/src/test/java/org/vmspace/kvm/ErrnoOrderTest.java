package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.vmspace.api.Errno;
import org.vmspace.api.Madvise;
import org.vmspace.api.MapFlags;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.Prot;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceService;
import org.vmspace.kvm.testing.GuestFixture;

/**
 * Each call reports the first error of the contract's ladder: arguments that are wrong in
 * several ways give the errno of the earliest check.
 */
@Tag("kvm")
class ErrnoOrderTest {
  private static final long MAX = VmspaceService.VM_MAX_USER_ADDRESS;
  private static final int RW = Prot.PROT_READ | Prot.PROT_WRITE;
  private static final int ANON = MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON;
  private final GuestFixture g = new GuestFixture();
  private final VmspaceService vms = g.vms;
  private final VmspaceId id = g.space(1);
  private final VmspaceId missing = VmspaceId.of(999);

  @AfterEach
  void close() {
    g.close();
  }

  private static Errno errno(Runnable call) {
    try {
      call.run();
      return null;
    } catch (VmspaceException e) {
      return e.errno();
    }
  }

  @Test
  void create() {
    assertThat(errno(() -> vms.create(VmspaceId.NULL, 5, 5))).isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> vms.create(id, 1, 0))).as("type before duplicate").isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> vms.create(VmspaceId.of(2), 0, 1))).isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> vms.create(id))).isEqualTo(Errno.EEXIST);
  }

  @Test
  void destroy() {
    assertThat(errno(() -> vms.destroy(missing))).isEqualTo(Errno.ENOENT);
    assertThat(errno(() -> vms.destroy(VmspaceId.NULL))).isEqualTo(Errno.ENOENT);
  }

  @Test
  void ctl() {
    assertThat(errno(() -> vms.ctl(missing, 7, null, null))).as("ENOENT before the command").isEqualTo(Errno.ENOENT);
    assertThat(errno(() -> vms.ctl(id, 7, null, null))).isEqualTo(Errno.EOPNOTSUPP);
    assertThat(errno(() -> vms.ctl(id, VmspaceService.VMSPACE_CTL_RUN, null, new VextFrame()))).isEqualTo(Errno.EFAULT);
    assertThat(errno(() -> vms.ctl(id, VmspaceService.VMSPACE_CTL_RUN, new TrapFrame(), null))).isEqualTo(Errno.EFAULT);
  }

  @Test
  void mmap() {
    MemoryObject closed = vms.createMemoryObject(4096);
    closed.close();
    try (MemoryObject obj = vms.createMemoryObject(4096)) {
      assertThat(errno(() -> vms.mmap(missing, 0, 0, 99, 0, obj, 1))).isEqualTo(Errno.ENOENT);
      assertThat(errno(() -> vms.mmap(id, 0, 0, RW, ANON, obj, 0))).as("anon with a backing, before len 0").isEqualTo(Errno.EINVAL);
      assertThat(errno(() -> vms.mmap(id, 0, 4096, RW, ANON, null, 4096))).as("anon with an offset").isEqualTo(Errno.EINVAL);
      assertThat(errno(() -> vms.mmap(id, 0, 0, RW, ANON, null, 0))).as("len 0").isEqualTo(Errno.EINVAL);
      assertThat(errno(() -> vms.mmap(id, 0, 4096, Prot.PROT_READ, ANON | MapFlags.MAP_VPAGETABLE, null, 0)))
          .as("MAP_VPAGETABLE without read and write").isEqualTo(Errno.EINVAL);
      assertThat(errno(() -> vms.mmap(id, 0, -1, RW, ANON, null, 0))).as("size rounding wraps").isEqualTo(Errno.EINVAL);
      assertThat(errno(() -> vms.mmap(id, 0x1001, 4096, RW, ANON | MapFlags.MAP_FIXED, null, 0)))
          .as("fixed misaligned").isEqualTo(Errno.EINVAL);
      assertThat(errno(() -> vms.mmap(id, MAX - 4096, 8192, RW, ANON | MapFlags.MAP_FIXED, null, 0)))
          .as("fixed past VM_MAX_USER_ADDRESS").isEqualTo(Errno.EINVAL);
      assertThat(errno(() -> vms.mmap(id, -4096L, 8192, RW, ANON | MapFlags.MAP_FIXED, null, 0)))
          .as("fixed wraps").isEqualTo(Errno.EINVAL);
      assertThat(errno(() -> vms.mmap(id, 0x1001, 4096, RW, MapFlags.MAP_SHARED | MapFlags.MAP_FIXED, closed, 0)))
          .as("misaligned before the closed backing").isEqualTo(Errno.EINVAL);
      assertThat(errno(() -> vms.mmap(id, 0, 4096, RW, MapFlags.MAP_SHARED, closed, 0))).isEqualTo(Errno.EBADF);
      assertThat(errno(() -> vms.mmap(id, 0, 4096, RW, MapFlags.MAP_SHARED, null, 0))).as("no backing").isEqualTo(Errno.EBADF);
      assertThat(errno(() -> vms.mmap(id, 0, 1L << 46, RW, ANON, null, 0))).as("over the limit").isEqualTo(Errno.ENOMEM);
      assertThat(errno(() -> vms.mmap(id, 0, 4096, RW, ANON | MapFlags.MAP_SHARED, null, 0)))
          .as("shared and private").isEqualTo(Errno.EINVAL);
      // MAP_TRYFIXED over a mapping fails; MAP_FIXED replaces it.
      long at = vms.mmap(id, 0x6000_0000L, 4096, RW, ANON | MapFlags.MAP_FIXED, null, 0);
      assertThat(errno(() -> vms.mmap(id, at, 4096, RW, ANON | MapFlags.MAP_TRYFIXED, null, 0))).isEqualTo(Errno.ENOMEM);
      assertThat(vms.mmap(id, at + 4096, 4096, RW, ANON | MapFlags.MAP_TRYFIXED, null, 0)).isEqualTo(at + 4096);
      // A hint is honoured when free, and the lowest free range above it is used otherwise.
      assertThat(vms.mmap(id, at, 4096, RW, ANON, null, 0)).isEqualTo(at + 8192);
    }
  }

  @Test
  void munmap() {
    assertThat(errno(() -> vms.munmap(missing, 1, -1))).isEqualTo(Errno.ENOENT);
    assertThat(errno(() -> vms.munmap(id, 0x1000, -0x800))).as("wrap").isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> vms.munmap(id, MAX + 0x5000, 0))).as("size 0 returns 0").isNull();
    assertThat(errno(() -> vms.munmap(id, MAX - 4096, 8192))).as("end past the max").isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> vms.munmap(id, 0x6100_0000L, 4096))).as("not mapped").isEqualTo(Errno.EINVAL);
    g.anon(id, 0x6100_0000L, 3 * 4096, RW);
    assertThat(errno(() -> vms.munmap(id, 0x6100_0000L, 4 * 4096))).as("partly mapped").isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> vms.munmap(id, 0x6100_0801L, 0x1000))).as("rounded to whole pages").isNull();
  }

  @Test
  void mcontrol() {
    assertThat(errno(() -> vms.mcontrol(missing, 0, -1, -5, 0))).isEqualTo(Errno.ENOENT);
    assertThat(errno(() -> vms.mcontrol(id, 0, -1, -1, 0))).as("behav before wrap").isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> vms.mcontrol(id, 0, 4096, Madvise.MADV_CONTROL_END + 1, 0))).isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> vms.mcontrol(id, 0x1000, -0x800, Madvise.MADV_NORMAL, 0))).as("wrap").isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> vms.mcontrol(id, MAX, 4096, Madvise.MADV_NORMAL, 0))).as("past the max").isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> vms.mcontrol(id, 0x6200_0000L, 4096, Madvise.MADV_WILLNEED, 0))).as("holes ignored").isNull();
    g.anon(id, 0x6200_0000L, 4096, RW);
    assertThat(errno(() -> vms.mcontrol(id, 0x6200_0000L, 4096, Madvise.MADV_SETMAP, 0x1000)))
        .as("SETMAP on a range that is not MAP_VPAGETABLE").isEqualTo(Errno.EINVAL);
  }

  @Test
  void preadAndPwrite() {
    MemorySegment small = MemorySegment.ofArray(new byte[8]);
    assertThat(errno(() -> vms.pread(missing, small, 100, 1, 0))).isEqualTo(Errno.ENOENT);
    assertThat(errno(() -> vms.pread(id, small, 100, 1, 0))).as("flags before the buffer").isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> vms.pread(id, small, 100, 0, 0))).isEqualTo(Errno.EFAULT);
    assertThat(errno(() -> vms.pread(id, small.asReadOnly(), 8, 0, 0))).isEqualTo(Errno.EFAULT);
    assertThat(errno(() -> vms.pwrite(id, small, -1, 0, 0))).isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> vms.pwrite(id, small, 100, 0, 0))).isEqualTo(Errno.EFAULT);
    assertThat(vms.pread(id, small, 8, 0, 0x6300_0000L)).as("inaccessible: 0 bytes").isZero();
  }
}
