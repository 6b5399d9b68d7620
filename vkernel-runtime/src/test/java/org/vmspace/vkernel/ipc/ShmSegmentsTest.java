package org.vmspace.vkernel.ipc;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.vmspace.api.Backing;
import org.vmspace.api.MemoryObject;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/** {@link ShmSegments}: sizes, keys, attach counting, IPC_RMID and the destruction after the last detach. */
class ShmSegmentsTest {
  private static final Cred A = new Cred(40, 1000, 1000);
  private static final Cred OTHER = new Cred(41, 2000, 2000);

  /** A memory object over Java memory, which records its closing. */
  private static final class FakeMemory implements MemoryObject {
    private final MemorySegment segment;
    private boolean open = true;

    FakeMemory(long size) {
      segment = Arena.ofAuto().allocate(size);
    }

    @Override
    public MemorySegment segment() {
      return segment;
    }

    @Override
    public long size() {
      return segment.byteSize();
    }

    @Override
    public boolean isOpen() {
      return open;
    }

    @Override
    public void close() {
      open = false;
    }
  }

  private final List<FakeMemory> made = new ArrayList<>();
  /** The mappings of each object, as the address spaces would count them. */
  private final Map<Backing, Long> mapped = new HashMap<>();
  private final ShmSegments shm = new ShmSegments(size -> {
    FakeMemory m = new FakeMemory(size);
    made.add(m);
    return m;
  }, b -> mapped.getOrDefault(b, 0L));

  private static int errno(Runnable r) {
    try {
      r.run();
    } catch (SyscallError e) {
      return e.errno();
    }
    return 0;
  }

  private ShmSegments.Attach attach(int id) {
    ShmSegments.Attach a = shm.attach(id, 0, A);
    mapped.merge(a.memory(), 1L, Long::sum);
    shm.attached(a.segment(), A, true);
    return a;
  }

  private void detach(ShmSegments.Attach a) {
    mapped.merge(a.memory(), -1L, Long::sum);
    shm.detached(a.memory(), A);
  }

  @Test
  void sizesAndKeys() {
    assertThat(errno(() -> shm.get(IpcIds.IPC_PRIVATE, 0, 0600, A))).isEqualTo(LinuxErrno.EINVAL);
    assertThat(errno(() -> shm.get(IpcIds.IPC_PRIVATE, -1L, 0600, A))).isEqualTo(LinuxErrno.EINVAL);
    int id = shm.get(9, 5000, IpcIds.IPC_CREAT | 0600, A);
    assertThat(made).hasSize(1);
    assertThat(made.get(0).size()).isEqualTo(8192); // whole pages
    assertThat(shm.get(9, 0, 0, A)).isEqualTo(id);
    assertThat(shm.get(9, 5000, 0, A)).isEqualTo(id);
    assertThat(errno(() -> shm.get(9, 5001, 0, A))).isEqualTo(LinuxErrno.EINVAL);
    assertThat(errno(() -> shm.get(9, 5000, IpcIds.IPC_CREAT | IpcIds.IPC_EXCL, A))).isEqualTo(LinuxErrno.EEXIST);
    assertThat(errno(() -> shm.get(9, 0, 0600, OTHER))).isEqualTo(LinuxErrno.EACCES);
    assertThat(shm.get(9, 0, 0, OTHER)).isEqualTo(id); // asks for no access
    ShmSegments.Stat s = shm.stat(id, false, false, A);
    assertThat(s.segsz()).isEqualTo(5000);
    assertThat(s.cpid()).isEqualTo(A.pid());
    assertThat(s.nattch()).isZero();
    assertThat(shm.usage()[1]).isEqualTo(2);
  }

  @Test
  void removedWhileAttachedLivesUntilTheLastDetach() {
    int id = shm.get(3, 4096, IpcIds.IPC_CREAT | 0600, A);
    assertThat(errno(() -> shm.attach(id, 0, OTHER))).isEqualTo(LinuxErrno.EACCES);
    ShmSegments.Attach first = attach(id);
    ShmSegments.Attach second = attach(id);
    assertThat(first.memory()).isSameAs(second.memory());
    assertThat(shm.stat(id, false, false, A).nattch()).isEqualTo(2);
    assertThat(shm.sizeOf(first.memory())).isEqualTo(4096);
    shm.remove(id, A);
    ShmSegments.Stat s = shm.stat(id, false, false, A);
    assertThat(s.perm().mode() & ShmSegments.SHM_DEST).isNotZero();
    assertThat(s.perm().key()).isZero();
    assertThat(errno(() -> shm.get(3, 4096, 0, A))).isEqualTo(LinuxErrno.ENOENT);
    int reused = shm.get(3, 4096, IpcIds.IPC_CREAT | IpcIds.IPC_EXCL | 0600, A); // the key is free
    assertThat(reused).isNotEqualTo(id);
    detach(first);
    assertThat(made.get(0).isOpen()).isTrue();
    detach(second);
    assertThat(made.get(0).isOpen()).isFalse();
    assertThat(errno(() -> shm.stat(id, false, false, A))).isEqualTo(LinuxErrno.EINVAL);
    assertThat(shm.sizeOf(first.memory())).isEqualTo(-1);
  }

  @Test
  void anAttachInProgressKeepsTheSegmentAndExitReaps() {
    int id = shm.get(IpcIds.IPC_PRIVATE, 4096, 0600, A);
    ShmSegments.Attach a = shm.attach(id, ShmSegments.SHM_RDONLY, A);
    shm.remove(id, A);
    assertThat(made.get(0).isOpen()).isTrue(); // being mapped
    mapped.put(a.memory(), 1L);
    shm.attached(a.segment(), A, true);
    assertThat(shm.stat(id, false, false, A).nattch()).isEqualTo(1);
    mapped.put(a.memory(), 0L); // the process exited
    shm.reap();
    assertThat(made.get(0).isOpen()).isFalse();
    assertThat(errno(() -> shm.attach(id, 0, A))).isEqualTo(LinuxErrno.EINVAL);
  }

  @Test
  void removingAnUnattachedSegmentDestroysItAtOnce() {
    int id = shm.get(IpcIds.IPC_PRIVATE, 4096, 0600, A);
    assertThat(errno(() -> shm.remove(id, OTHER))).isEqualTo(LinuxErrno.EPERM);
    shm.remove(id, A);
    assertThat(made.get(0).isOpen()).isFalse();
    assertThat(shm.usage()[0]).isZero();
    assertThat(shm.usage()[1]).isZero();
  }
}
