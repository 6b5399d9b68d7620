package org.vmspace.vkernel.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

class FdTableTest {
  static final class Counted extends FileDescription {
    final AtomicInteger closes = new AtomicInteger();

    Counted() {
      super(0);
    }

    @Override
    public String path() {
      return "counted";
    }

    @Override
    public void fstat(MemorySegment stat) {}

    @Override
    protected void close() {
      closes.incrementAndGet();
    }
  }

  @Test
  void installTakesTheLowestFreeDescriptor() {
    FdTable t = new FdTable();
    Counted a = new Counted();
    assertThat(t.install(a, 0, false)).isZero();
    assertThat(t.install(a.retain(), 0, false)).isEqualTo(1);
    assertThat(t.install(a.retain(), 10, true)).isEqualTo(10);
    t.close(0);
    assertThat(t.install(a.retain(), 0, false)).isZero();
    assertThat(t.closeOnExec(10)).isTrue();
    assertThat(t.closeOnExec(1)).isFalse();
  }

  @Test
  void theLastReferenceClosesTheDescription() {
    FdTable t = new FdTable();
    Counted a = new Counted();
    int fd = t.install(a, 0, false);
    t.installAt(a.retain(), 5, false);
    t.close(fd);
    assertThat(a.closes).hasValue(0);
    t.installAt(new Counted(), 5, false); // dup2 over it
    assertThat(a.closes).hasValue(1);
  }

  @Test
  void aClosedDescriptionFoundInASnapshotCannotBeRevived() {
    FdTable t = new FdTable();
    Counted a = new Counted();
    int fd = t.install(a, 0, false);
    FileDescription seen = t.snapshot().get(fd); // /proc/PID/fd of another process
    assertThat(seen.tryRetain()).as("open while it is open").isTrue();
    seen.release();
    t.close(fd);
    assertThat(a.closes).hasValue(1);
    assertThat(seen.tryRetain()).as("after its last close").isFalse();
    assertThat(a.closes).hasValue(1);
  }

  @Test
  void execClosesCloseOnExecAndCopiesShareDescriptions() {
    FdTable t = new FdTable();
    Counted keep = new Counted();
    Counted drop = new Counted();
    t.install(keep, 0, false);
    t.install(drop, 0, true);
    FdTable child = t.copy();
    List<FileDescription> closing = new ArrayList<>();
    t.closeOnExec(closing::add);
    assertThat(closing).containsExactly(drop); // told before it goes (exec drops its POSIX locks)
    assertThat(t.isOpen(1)).isFalse();
    assertThat(drop.closes).hasValue(0); // the child still has it
    child.release();
    assertThat(drop.closes).hasValue(1);
    assertThat(keep.closes).hasValue(0);
    FdTable shared = t.share();
    t.release();
    assertThat(keep.closes).hasValue(0);
    shared.release();
    assertThat(keep.closes).hasValue(1);
  }

  @Test
  void badDescriptorsAreEbadfAndAFullTableIsEmfile() {
    FdTable t = new FdTable();
    assertThatThrownBy(() -> t.get(3)).isInstanceOfSatisfying(SyscallError.class,
        e -> assertThat(e.errno()).isEqualTo(LinuxErrno.EBADF));
    assertThatThrownBy(() -> t.close(-1)).isInstanceOf(SyscallError.class);
    Counted c = new Counted();
    t.install(c, 0, false);
    for (int i = 1; i < FdTable.DEFAULT_LIMIT; i++) {
      t.install(c.retain(), 0, false);
    }
    Counted extra = new Counted();
    assertThatThrownBy(() -> t.install(extra, 0, false)).isInstanceOfSatisfying(SyscallError.class,
        e -> assertThat(e.errno()).isEqualTo(LinuxErrno.EMFILE));
    assertThat(extra.closes).hasValue(1);
  }

  @Test
  void theLimitIsRlimitNofileEmfileForNewDescriptorsEbadfForDup2() {
    FdTable t = new FdTable();
    t.limit(42);
    Counted c = new Counted();
    int opened = 0;
    try {
      while (true) {
        t.install(c.retain(), 0, false);
        opened++;
      }
    } catch (SyscallError e) {
      assertThat(e.errno()).isEqualTo(LinuxErrno.EMFILE);
    }
    assertThat(opened).isEqualTo(42);
    // F_DUPFD's floor above the limit finds nothing either.
    t.close(7);
    assertThatThrownBy(() -> t.install(c.retain(), 8, false)).isInstanceOfSatisfying(SyscallError.class,
        e -> assertThat(e.errno()).isEqualTo(LinuxErrno.EMFILE));
    assertThat(t.install(c.retain(), 0, false)).isEqualTo(7);
    assertThatThrownBy(() -> t.installAt(c.retain(), 42, false)).isInstanceOfSatisfying(SyscallError.class,
        e -> assertThat(e.errno()).isEqualTo(LinuxErrno.EBADF));
    t.installAt(c.retain(), 41, false);
    // Lowering the limit keeps what is open above it, as Linux does.
    t.limit(10);
    assertThat(t.isOpen(41)).isTrue();
    assertThat(t.get(41)).isSameAs(c);
    FdTable copy = t.copy();
    assertThat(copy.limit()).isEqualTo(10);
    copy.closeAll();
    t.closeAll();
    assertThat(c.closes).hasValue(0);
    c.release(); // the reference the test held
    assertThat(c.closes).hasValue(1);
  }

  @Test
  void aRaisedLimitGrowsTheTableUpToNrOpen() {
    FdTable t = new FdTable();
    t.limit(-1L); // RLIM_INFINITY
    assertThat(t.limit()).isEqualTo(FdTable.NR_OPEN);
    Counted c = new Counted();
    t.installAt(c, 5000, true);
    assertThat(t.install(c.retain(), 4999, false)).isEqualTo(4999);
    assertThat(t.install(c.retain(), 4999, false)).isEqualTo(5001);
    assertThat(t.size()).isGreaterThan(5001);
    FdTable copy = t.copy();
    assertThat(copy.closeOnExec(5000)).isTrue();
    assertThat(copy.snapshot().keySet()).containsExactly(4999, 5000, 5001);
    assertThatThrownBy(() -> t.installAt(c.retain(), FdTable.NR_OPEN, false)).isInstanceOfSatisfying(
        SyscallError.class, e -> assertThat(e.errno()).isEqualTo(LinuxErrno.EBADF));
    copy.closeAll();
    t.closeAll();
    assertThat(c.closes).hasValue(1);
  }
}
