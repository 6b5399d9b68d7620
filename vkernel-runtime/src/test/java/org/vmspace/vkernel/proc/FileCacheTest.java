package org.vmspace.vkernel.proc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.vmspace.api.Errno;
import org.vmspace.api.HostFile;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceService;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The file cache's bookkeeping, with the service mocked (what it maps is tested on KVM by the
 * integration tests): one host file per file version, shared by every user; a new version (a
 * different mtime or size) gets its own; an evicted entry is closed once, and only after its
 * last user released it; the service's errno reaches the caller.
 */
class FileCacheTest {
  private final Arena arena = Arena.ofAuto();

  /** A stat buffer with the fields the cache keys on. */
  private MemorySegment stat(long dev, long ino, long mtime, long size) {
    MemorySegment st = arena.allocate(144, 8);
    st.set(ValueLayout.JAVA_LONG, 0, dev);
    st.set(ValueLayout.JAVA_LONG, 8, ino);
    st.set(ValueLayout.JAVA_LONG, 48, size);
    st.set(ValueLayout.JAVA_LONG, 88, mtime);
    st.set(ValueLayout.JAVA_LONG, 96, 0);
    return st;
  }

  @Test
  void oneHostFilePerVersionSharedByEveryUser() {
    VmspaceService vms = mock(VmspaceService.class);
    HostFile v1 = mock(HostFile.class);
    HostFile v2 = mock(HostFile.class);
    when(vms.openFile(any(Path.class), eq(false))).thenReturn(v1, v2);
    FileCache cache = new FileCache(vms, 8);
    FileCache.Entry a = cache.get(3, stat(1, 42, 100, 4096));
    FileCache.Entry b = cache.get(4, stat(1, 42, 100, 4096));
    assertThat(a).isSameAs(b);
    assertThat(a.file()).isSameAs(v1);
    FileCache.Entry changed = cache.get(3, stat(1, 42, 101, 4096));
    assertThat(changed.file()).isSameAs(v2);
    assertThat(cache.get(3, stat(1, 42, 101, 8192))).isNotSameAs(changed); // a new size is a new version
    verify(vms, times(3)).openFile(Path.of("/proc/self/fd/3"), false); // fd 4 found the cached one
    verify(vms, never()).openFile(Path.of("/proc/self/fd/4"), false);
    assertThat(cache.size()).isEqualTo(3);
  }

  @Test
  void anEvictedEntryClosesOnceAfterItsLastRelease() {
    VmspaceService vms = mock(VmspaceService.class);
    HostFile first = mock(HostFile.class);
    HostFile second = mock(HostFile.class);
    when(vms.openFile(any(Path.class), eq(false))).thenReturn(first, second);
    FileCache cache = new FileCache(vms, 1);
    FileCache.Entry inUse = cache.get(3, stat(1, 1, 1, 1));
    FileCache.Entry other = cache.get(3, stat(1, 2, 1, 1)); // evicts the first (maximum size 1)
    assertThat(cache.size()).isEqualTo(1);
    verify(first, never()).close();
    inUse.release();
    verify(first, times(1)).close();
    other.release();
    cache.close();
    verify(second, times(1)).close();
    verify(first, times(1)).close();
  }

  @Test
  void anUnusedEntryClosesWhenEvicted() {
    VmspaceService vms = mock(VmspaceService.class);
    HostFile file = mock(HostFile.class);
    when(vms.openFile(any(Path.class), eq(false))).thenReturn(file, mock(HostFile.class));
    FileCache cache = new FileCache(vms, 1);
    cache.get(3, stat(1, 1, 1, 1)).release();
    verify(file, never()).close();
    cache.get(3, stat(1, 2, 1, 1)).release();
    cache.size(); // runs the eviction
    verify(file, times(1)).close();
  }

  @Test
  void theServicesErrnoReachesTheCaller() {
    VmspaceService vms = mock(VmspaceService.class);
    when(vms.openFile(any(Path.class), eq(false))).thenThrow(new VmspaceException(Errno.EACCES, "openFile", null, "denied"));
    FileCache cache = new FileCache(vms, 4);
    assertThatThrownBy(() -> cache.get(3, stat(1, 1, 1, 1)))
        .isInstanceOfSatisfying(SyscallError.class, e -> assertThat(e.errno()).isEqualTo(LinuxErrno.EACCES));
    assertThat(cache.size()).isZero();
  }

  /** A file version's key is equal to another exactly when all five fields are; seeded. */
  @Test
  void keysAreEqualExactlyWhenEveryFieldIs() {
    java.util.Random rnd = new java.util.Random(5);
    for (int trial = 0; trial < 1000; trial++) {
      long[] f = {rnd.nextLong(), rnd.nextLong(), rnd.nextLong(), rnd.nextInt(1_000_000_000), rnd.nextLong()};
      FileCache.Key k = new FileCache.Key(f[0], f[1], f[2], f[3], f[4]);
      FileCache.Key same = new FileCache.Key(f[0], f[1], f[2], f[3], f[4]);
      assertThat(k).isEqualTo(same).hasSameHashCodeAs(same);
      long[] g = f.clone();
      g[rnd.nextInt(5)] ^= 1L << rnd.nextInt(64);
      assertThat(k).isNotEqualTo(new FileCache.Key(g[0], g[1], g[2], g[3], g[4]));
    }
    assertThat(new FileCache.Key(1, 2, 3, 4, 5)).isNotEqualTo(null).isNotEqualTo("key");
  }
}
