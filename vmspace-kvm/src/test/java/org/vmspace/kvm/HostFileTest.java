package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.vmspace.kvm.testing.GuestFixture.at;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmspace.api.Errno;
import org.vmspace.api.ExitStatistics;
import org.vmspace.api.HostFile;
import org.vmspace.api.MapFlags;
import org.vmspace.api.Prot;
import org.vmspace.api.RunResult;
import org.vmspace.api.Trap;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceId;
import org.vmspace.kvm.testing.GuestFixture;

/** Host files mapped privately (copy-on-write) and shared (the file itself). */
@Tag("kvm")
class HostFileTest {
  private static final long AT = 0x6000_0000L;
  private static final int RW = Prot.PROT_READ | Prot.PROT_WRITE;
  @TempDir Path dir;

  private Path file(long... quads) throws IOException {
    Path p = dir.resolve("f" + System.nanoTime());
    ByteBuffer b = ByteBuffer.allocate(quads.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    for (long q : quads) {
      b.putLong(q);
    }
    Files.write(p, b.array());
    return p;
  }

  private static long fileLong(Path p, long offset) throws IOException {
    try (FileChannel ch = FileChannel.open(p)) {
      ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      ch.read(b, offset);
      return b.flip().getLong();
    }
  }

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
  void privateMappingsReadTheFileAndCopyOnWrite() throws IOException {
    Path p = file(new long[1024]); // two pages of zeros...
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(new byte[] {0x11}), 4096);
    }
    try (GuestFixture g = new GuestFixture(); HostFile f = g.vms.openFile(p, false)) {
      VmspaceId a = g.space(1);
      VmspaceId b = g.space(2);
      g.vms.mmap(a, AT, 8192, RW, MapFlags.MAP_PRIVATE | MapFlags.MAP_FIXED, f, 0);
      g.vms.mmap(b, AT, 8192, Prot.PROT_READ, MapFlags.MAP_PRIVATE | MapFlags.MAP_FIXED, f, 0);
      assertThat(guestRead(g, a, AT + 4096)).isEqualTo(0x11);
      guestWrite(g, a, AT + 4096, 0x2222);
      assertThat(guestRead(g, a, AT + 4096)).isEqualTo(0x2222);
      assertThat(guestRead(g, b, AT + 4096)).as("the other private mapping").isEqualTo(0x11);
      assertThat(fileLong(p, 4096)).as("the file").isEqualTo(0x11);
    }
  }

  @Test
  void aNewPrivateMappingFindsThePagesTheCacheHoldsPresent() throws IOException {
    long[] quads = new long[16 * 512]; // 16 pages, page i starting with 0x100 + i
    for (int i = 0; i < 16; i++) {
      quads[i * 512] = 0x100 + i;
    }
    Path p = file(quads);
    try (GuestFixture g = new GuestFixture(); HostFile f = g.vms.openFile(p, false)) {
      VmspaceId a = g.space(1);
      g.vms.mmap(a, AT, 16 * 4096, Prot.PROT_READ, MapFlags.MAP_PRIVATE | MapFlags.MAP_FIXED, f, 0);
      assertThat(guestRead(g, a, AT)).isEqualTo(0x100);
      assertThat(guestRead(g, a, AT + 5 * 4096)).isEqualTo(0x105);

      // A second process maps the same file (as a re-exec maps its program): pages 0 and 5
      // are in the file's cache, so they are mapped present, read-only even though the
      // mapping is writable.
      VmspaceId b = g.space(2);
      g.vms.mmap(b, AT, 16 * 4096, RW, MapFlags.MAP_PRIVATE | MapFlags.MAP_FIXED, f, 0);
      assertThat(g.run(b, at("one_syscall"), new VextFrame())).isEqualTo(RunResult.SYSCALL); // its text
      ExitStatistics before = g.vms.exitStatistics(b);
      assertThat(guestRead(g, b, AT)).isEqualTo(0x100);
      assertThat(guestRead(g, b, AT + 5 * 4096)).isEqualTo(0x105);
      assertThat(g.vms.exitStatistics(b).minus(before).demandFaults()).as("cached pages").isZero();
      assertThat(guestRead(g, b, AT + 9 * 4096)).isEqualTo(0x109);
      assertThat(g.vms.exitStatistics(b).minus(before).demandFaults()).as("a page never read").isEqualTo(1);

      // The first write copies: the other process and the file keep the cached page.
      guestWrite(g, b, AT + 5 * 4096, 0x5555);
      assertThat(g.vms.exitStatistics(b).minus(before).demandFaults()).as("copy on write").isEqualTo(2);
      assertThat(guestRead(g, b, AT + 5 * 4096)).isEqualTo(0x5555);
      assertThat(guestRead(g, a, AT + 5 * 4096)).isEqualTo(0x105);
      assertThat(fileLong(p, 5 * 4096)).isEqualTo(0x105);
      byte[] host = new byte[8];
      assertThat(g.vms.pread(b, MemorySegment.ofArray(host), 8, 0, AT + 4096 * 5)).isEqualTo(8);
      assertThat(ByteBuffer.wrap(host).order(ByteOrder.LITTLE_ENDIAN).getLong()).isEqualTo(0x5555);
    }
  }

  @Test
  void sharedMappingsAreTheFile() throws IOException {
    Path p = file(1, 2, 3, 4);
    try (GuestFixture g = new GuestFixture(); HostFile f = g.vms.openFile(p, true)) {
      VmspaceId a = g.space(1);
      VmspaceId b = g.space(2);
      g.vms.mmap(a, AT, 4096, RW, MapFlags.MAP_SHARED | MapFlags.MAP_FIXED, f, 0);
      g.vms.mmap(b, AT, 4096, Prot.PROT_READ, MapFlags.MAP_SHARED | MapFlags.MAP_FIXED, f, 0);
      assertThat(guestRead(g, a, AT + 8)).isEqualTo(2);
      guestWrite(g, a, AT + 16, 0x3333);
      assertThat(fileLong(p, 16)).as("the guest wrote the file").isEqualTo(0x3333);
      assertThat(guestRead(g, b, AT + 16)).isEqualTo(0x3333);
      try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
        ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 0x4444), 24);
      }
      assertThat(guestRead(g, a, AT + 24)).as("the file's change reaches the guest").isEqualTo(0x4444);
      // Past the end of the file's page: no such page (SIGBUS on Linux).
      g.vms.munmap(a, AT, 4096);
      g.vms.mmap(a, AT, 8192, RW, MapFlags.MAP_SHARED | MapFlags.MAP_FIXED, f, 0);
      TrapFrame past = at("do_read").rbx(AT + 4096);
      assertThat(g.run(a, past, new VextFrame())).isEqualTo(RunResult.PAGEFAULT);
      assertThat(past.trapno()).isEqualTo(Trap.T_PAGEFLT);
      // Bytes after the end of the file in its last page read as zero.
      assertThat(guestRead(g, a, AT + 4088)).isZero();
    }
  }

  @Test
  void preadAndPwriteReachTheFileThroughASharedMapping() throws IOException {
    // A virtual kernel reads guest memory this way (a futex word in a shared file mapping, say).
    Path p = file(1, 2, 3, 4);
    try (GuestFixture g = new GuestFixture(); HostFile f = g.vms.openFile(p, true)) {
      VmspaceId a = g.space(1);
      g.vms.mmap(a, AT, 4096, RW, MapFlags.MAP_SHARED | MapFlags.MAP_FIXED, f, 0);
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment buf = arena.allocate(16);
        assertThat(g.vms.pread(a, buf, 16, 0, AT + 16)).isEqualTo(16);
        assertThat(buf.get(ValueLayout.JAVA_LONG_UNALIGNED, 0)).isEqualTo(3);
        assertThat(buf.get(ValueLayout.JAVA_LONG_UNALIGNED, 8)).isEqualTo(4);
        buf.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0x5555);
        assertThat(g.vms.pwrite(a, buf, 8, 0, AT + 24)).isEqualTo(8);
      }
      assertThat(fileLong(p, 24)).as("pwrite reached the file").isEqualTo(0x5555);
      assertThat(guestRead(g, a, AT + 24)).isEqualTo(0x5555);
    }
  }

  @Test
  void accessIsCheckedAgainstHowTheFileWasOpened() throws IOException {
    Path p = file(7);
    try (GuestFixture g = new GuestFixture()) {
      HostFile ro = g.vms.openFile(p, false);
      VmspaceId a = g.space(1);
      assertThatThrownBy(() -> g.vms.mmap(a, AT, 4096, RW, MapFlags.MAP_SHARED | MapFlags.MAP_FIXED, ro, 0))
          .matches(e -> ((VmspaceException) e).errno() == Errno.EACCES);
      g.vms.mmap(a, AT, 4096, Prot.PROT_READ, MapFlags.MAP_SHARED | MapFlags.MAP_FIXED, ro, 0);
      TrapFrame w = at("do_write").rbx(AT).rax(1);
      assertThat(g.run(a, w, new VextFrame())).isEqualTo(RunResult.PAGEFAULT);
      assertThat(fileLong(p, 0)).isEqualTo(7);
      ro.close();
      assertThatThrownBy(() -> g.vms.mmap(a, AT + 4096, 4096, Prot.PROT_READ, MapFlags.MAP_SHARED, ro, 0))
          .matches(e -> ((VmspaceException) e).errno() == Errno.EBADF);
      assertThat(guestRead(g, a, AT)).as("existing mappings outlive the handle").isEqualTo(7);
    }
  }

  @Test
  void openingErrors() {
    try (GuestFixture g = new GuestFixture()) {
      assertThatThrownBy(() -> g.vms.openFile(dir.resolve("missing"), false))
          .matches(e -> ((VmspaceException) e).errno() == Errno.ENOENT);
      assertThatThrownBy(() -> g.vms.openFile(dir, false))
          .matches(e -> ((VmspaceException) e).errno() == Errno.EINVAL);
      assertThatThrownBy(() -> g.vms.openFile(Path.of("/dev/null"), false))
          .matches(e -> ((VmspaceException) e).errno() == Errno.EINVAL);
    }
  }

  @Test
  void closingTheServiceReleasesFileSlotsAndDescriptors() throws Exception {
    Path p = file(1);
    long fds = ResourceCycleTest.openFds();
    for (int i = 0; i < 20; i++) {
      try (GuestFixture g = new GuestFixture(); HostFile f = g.vms.openFile(p, true)) {
        VmspaceId a = g.space(1);
        g.vms.mmap(a, AT, 4096, RW, MapFlags.MAP_SHARED | MapFlags.MAP_FIXED, f, 0);
        g.vms.mmap(a, AT + 4096, 4096, RW, MapFlags.MAP_PRIVATE | MapFlags.MAP_FIXED, f, 0);
        assertThat(guestRead(g, a, AT)).isEqualTo(1);
        assertThat(guestRead(g, a, AT + 4096)).isEqualTo(1);
      }
    }
    assertThat(ResourceCycleTest.openFds()).isLessThanOrEqualTo(fds + 2);
  }
}
