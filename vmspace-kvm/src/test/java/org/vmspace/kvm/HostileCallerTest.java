package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.vmspace.api.Errno;
import org.vmspace.api.Madvise;
import org.vmspace.api.MapFlags;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.Prot;
import org.vmspace.api.RunResult;
import org.vmspace.api.Trap;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceOptions;
import org.vmspace.api.VmspaceService;
import org.vmspace.kvm.service.ServiceInternals;
import org.vmspace.kvm.testing.GuestFixture;
import org.vmspace.kvm.testing.KvmTests;

/**
 * The calls a hostile caller made in issue 16, each with the errno of the contract, and the
 * null policy of {@link VmspaceService} for every method: each result is a value or a {@link
 * VmspaceException}, never another exception, and the address map stays sound.
 */
@Tag("kvm")
class HostileCallerTest {
  private static final long PAGE = 4096;
  private static final long MAX = VmspaceService.VM_MAX_USER_ADDRESS;
  private static final int RW = Prot.PROT_READ | Prot.PROT_WRITE;
  private static final int ANON = MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON;
  private static final long LIMIT = 16L << 20;

  private final GuestFixture g =
      new GuestFixture(KvmTests.open(VmspaceOptions.builder().memoryLimit(LIMIT).maxVcpus(2).build()));
  private final VmspaceService vms = g.vms;
  private final VmspaceId id = g.space(1);

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

  private void mapIsSound() {
    assertThat(ServiceInternals.verifyAddressMap(vms, id)).isTrue();
  }

  /**
   * The call, {@code mmap(id, 0, Long.MAX_VALUE, RW, MAP_PRIVATE|MAP_ANON)} under a 16
   * MiB limit, and the lengths of 2^63 and more that are no writable anonymous mapping (so the
   * limit check does not stop them first): each is ENOMEM, no room, and never lands over the
   * program, its stack or past the user limit. It was placed at 0x10000 over everything.
   */
  @Test
  void lengthsOfTwoToThe63AndMoreAreNoRoom() {
    try (MemoryObject obj = vms.createMemoryObject(4 * PAGE)) {
      long[] lengths = {Long.MAX_VALUE, 1L << 63, -PAGE, (1L << 63) + 1, MAX + PAGE, MAX};
      for (long len : lengths) {
        String at = String.format("len 0x%x", len);
        assertThat(errno(() -> vms.mmap(id, 0, len, RW, ANON, null, 0))).as(at).isEqualTo(Errno.ENOMEM);
        assertThat(errno(() -> vms.mmap(id, 0, len, Prot.PROT_READ, ANON, null, 0))).as(at).isEqualTo(Errno.ENOMEM);
        assertThat(errno(() -> vms.mmap(id, 0x1000_0000L, len, RW, ANON | MapFlags.MAP_NORESERVE, null, 0)))
            .as(at).isEqualTo(Errno.ENOMEM);
        assertThat(errno(() -> vms.mmap(id, 0, len, Prot.PROT_NONE, MapFlags.MAP_SHARED | MapFlags.MAP_ANON, null, 0)))
            .as(at).isEqualTo(Errno.ENOMEM);
        assertThat(errno(() -> vms.mmap(id, 0, len, Prot.PROT_READ, MapFlags.MAP_SHARED, obj, 0)))
            .as(at).isEqualTo(Errno.ENOMEM);
        mapIsSound();
      }
      // A length that wraps when rounded to pages is EINVAL before any placement.
      assertThat(errno(() -> vms.mmap(id, 0, -1, Prot.PROT_READ, ANON, null, 0))).isEqualTo(Errno.EINVAL);
      // Afterwards a page lands in free space, and the program still runs on its own pages.
      long page = vms.mmap(id, 0, PAGE, RW, ANON, null, 0);
      assertThat(page).isEqualTo(0x10000);
      mapIsSound();
      long stack = GuestFixture.STACK_TOP - 8;
      g.poke(id, stack, 0x1616);
      TrapFrame f = GuestFixture.at("read_report").rbx(stack);
      assertThat(g.run(id, f, new VextFrame())).isEqualTo(RunResult.SYSCALL);
      assertThat(f.rdi()).isEqualTo(0x1616);
    }
  }

  /** The largest mapping that fits does, once; the next is ENOMEM. */
  @Test
  void theWholeFreeRangeFitsOnce() {
    long top = GuestFixture.STACK_TOP;
    long len = MAX - top;
    assertThat(vms.mmap(id, top, len, Prot.PROT_NONE, ANON, null, 0)).isEqualTo(top);
    assertThat(errno(() -> vms.mmap(id, top, PAGE, Prot.PROT_NONE, ANON, null, 0)))
        .as("hint above: falls back below").isNull();
    assertThat(errno(() -> vms.mmap(id, 0, len, Prot.PROT_NONE, ANON, null, 0))).isEqualTo(Errno.ENOMEM);
    mapIsSound();
  }

  /**
   * The offset is unsigned: -4096 is past the end of any object (it was accepted, a signed
   * {@code pos / PAGE} of -1). EINVAL, as for any offset at or past the end.
   */
  @Test
  void offsetsPastTheEndOfAnObjectAreInvalid() {
    try (MemoryObject obj = vms.createMemoryObject(4 * PAGE)) {
      for (long off : new long[] {-PAGE, Long.MIN_VALUE, -1, Long.MAX_VALUE, 4 * PAGE, 1L << 52}) {
        for (int flags : new int[] {MapFlags.MAP_SHARED, MapFlags.MAP_PRIVATE}) {
          assertThat(errno(() -> vms.mmap(id, 0, PAGE, Prot.PROT_READ, flags, obj, off)))
              .as("offset 0x%x flags 0x%x", off, flags).isEqualTo(Errno.EINVAL);
        }
        assertThat(errno(() -> vms.mmap(id, 0x2000_0000L + (off & (PAGE - 1)), PAGE, Prot.PROT_READ,
            MapFlags.MAP_SHARED | MapFlags.MAP_FIXED, obj, off))).as("fixed, offset 0x%x", off).isEqualTo(Errno.EINVAL);
      }
      obj.segment().set(java.lang.foreign.ValueLayout.JAVA_LONG, 3 * PAGE, 0x7777);
      long at = vms.mmap(id, 0, PAGE, Prot.PROT_READ, MapFlags.MAP_SHARED, obj, 3 * PAGE);
      assertThat(g.peek(id, at)).isEqualTo(0x7777);
      mapIsSound();
    }
  }

  /**
   * A timeout too long to expire in the process's life is no limit (it threw
   * ArithmeticException converting to nanoseconds); a negative one is EINVAL.
   */
  @Test
  void hugeTimeoutsAreNoLimit() {
    long stack = GuestFixture.STACK_TOP - 8;
    for (Duration d : new Duration[] {Duration.ofSeconds(Long.MAX_VALUE), Duration.ofSeconds(Long.MAX_VALUE, 999_999_999),
        Duration.ofNanos(Long.MAX_VALUE), Duration.ofDays(365L * 200)}) {
      TrapFrame f = GuestFixture.at("read_report").rbx(stack);
      assertThat(vms.run(id, f, new VextFrame(), d)).as("%s", d).isEqualTo(RunResult.SYSCALL);
      assertThat(f.trapno()).isEqualTo(Trap.T_FAST_SYSCALL);
    }
    for (Duration d : new Duration[] {Duration.ofSeconds(Long.MIN_VALUE), Duration.ofNanos(-1)}) {
      assertThat(errno(() -> vms.run(id, GuestFixture.at("read_report").rbx(stack), new VextFrame(), d)))
          .as("%s", d).isEqualTo(Errno.EINVAL);
    }
  }

  /**
   * Sizes of memory objects are rounded up without wrapping: Long.MAX_VALUE threw
   * IllegalArgumentException from a negative page count. Over the limit is ENOMEM; zero and
   * negative sizes are EINVAL, as the interface says.
   */
  @Test
  void memoryObjectSizes() {
    for (long size : new long[] {Long.MAX_VALUE, Long.MAX_VALUE - PAGE + 2, 1L << 62, LIMIT + 1, 1L << 52}) {
      assertThat(errno(() -> vms.createMemoryObject(size))).as("size 0x%x", size).isEqualTo(Errno.ENOMEM);
    }
    for (long size : new long[] {0, -1, -PAGE, Long.MIN_VALUE}) {
      assertThat(errno(() -> vms.createMemoryObject(size))).as("size 0x%x", size).isEqualTo(Errno.EINVAL);
    }
    try (MemoryObject small = vms.createMemoryObject(1)) {
      assertThat(small.size()).isEqualTo(PAGE);
    }
  }

  /**
   * The null policy of {@link VmspaceService}, method by method: a null id is the NULL id, a
   * null frame, buffer or path is EFAULT, a null backing is none, a null timeout no limit, any
   * other null EINVAL; never a NullPointerException.
   */
  @Test
  void nullPolicy() {
    TrapFrame f = GuestFixture.at("read_report").rbx(GuestFixture.STACK_TOP - 8);
    VextFrame x = new VextFrame();
    MemorySegment buf = Arena.ofAuto().allocate(16);
    // create and fork: the new id must not be NULL.
    assertThat(errno(() -> vms.create(null))).isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> vms.create(null, 0, 0))).isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> vms.fork(id, null))).isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> vms.fork(null, VmspaceId.of(5)))).isEqualTo(Errno.ENOENT);
    // Every call that looks an id up: ENOENT before anything else.
    assertThat(errno(() -> vms.destroy(null))).isEqualTo(Errno.ENOENT);
    assertThat(errno(() -> vms.ctl(null, VmspaceService.VMSPACE_CTL_RUN, f, x))).isEqualTo(Errno.ENOENT);
    assertThat(errno(() -> vms.run(null, f, x))).isEqualTo(Errno.ENOENT);
    assertThat(errno(() -> vms.run(null, null, null, null))).isEqualTo(Errno.ENOENT);
    assertThat(errno(() -> vms.mmap(null, 0, PAGE, RW, ANON, null, 0))).isEqualTo(Errno.ENOENT);
    assertThat(errno(() -> vms.munmap(null, 0, PAGE))).isEqualTo(Errno.ENOENT);
    assertThat(errno(() -> vms.mcontrol(null, 0, PAGE, Madvise.MADV_NORMAL, 0))).isEqualTo(Errno.ENOENT);
    assertThat(errno(() -> vms.mprotect(null, 0, PAGE, RW))).isEqualTo(Errno.ENOENT);
    assertThat(errno(() -> vms.pread(null, buf, 8, 0, 0))).isEqualTo(Errno.ENOENT);
    assertThat(errno(() -> vms.pwrite(null, buf, 8, 0, 0))).isEqualTo(Errno.ENOENT);
    // Frames and buffers are C's pointers: EFAULT, in the contract's place.
    assertThat(errno(() -> vms.ctl(id, VmspaceService.VMSPACE_CTL_RUN, null, x))).isEqualTo(Errno.EFAULT);
    assertThat(errno(() -> vms.ctl(id, VmspaceService.VMSPACE_CTL_RUN, f, null))).isEqualTo(Errno.EFAULT);
    assertThat(errno(() -> vms.ctl(id, 2, null, null))).as("command before frames").isEqualTo(Errno.EOPNOTSUPP);
    assertThat(errno(() -> vms.run(id, null, x, Duration.ofSeconds(1)))).isEqualTo(Errno.EFAULT);
    assertThat(errno(() -> vms.run(id, f, null, null))).isEqualTo(Errno.EFAULT);
    assertThat(errno(() -> vms.pread(id, null, 8, 0, 0))).isEqualTo(Errno.EFAULT);
    assertThat(errno(() -> vms.pwrite(id, null, 8, 0, 0))).isEqualTo(Errno.EFAULT);
    assertThat(errno(() -> vms.pread(id, null, 8, 1, 0))).as("flags before buffer").isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> vms.openFile(null, false))).isEqualTo(Errno.EFAULT);
    // A null backing is none; a null timeout is no limit.
    assertThat(errno(() -> vms.mmap(id, 0, PAGE, RW, MapFlags.MAP_SHARED, null, 0))).isEqualTo(Errno.EBADF);
    assertThat(vms.run(id, f, x, null)).isEqualTo(RunResult.SYSCALL);
    // Any other null: EINVAL.
    assertThat(errno(() -> vms.interrupt(null))).isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> vms.copyVectorState(null, x))).isEqualTo(Errno.EINVAL);
    assertThat(errno(() -> vms.copyVectorState(x, null))).isEqualTo(Errno.EINVAL);
    // The calls without reference arguments, for completeness of "every method".
    assertThat(errno(() -> vms.createMemoryObject(0))).isEqualTo(Errno.EINVAL);
    assertThat(vms.backendInfo()).isNotNull();
    assertThat(errno(() -> vms.openFile(Path.of("/nonexistent/hostile"), false))).isEqualTo(Errno.ENOENT);
    VmspaceService child = vms.inherit();
    child.close();
    child.close();
    mapIsSound();
  }
}
