package org.vmspace.vkernel.fs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmspace.vkernel.host.Host;

/**
 * {@link FileLocks#mirroredOnHost}: the guest's locks on a host file exclude host processes and
 * theirs exclude the guest. Real host locks, no KVM: the "host process" of the record-lock cases
 * is this JVM's own fcntl lock (a POSIX lock, which an OFD lock conflicts with even in one
 * process), that of the flock cases util-linux's {@code flock} command.
 */
class HostLocksTest {
  @TempDir Path dir;
  private Path file;
  private HostFileDescription d;
  private HostInode inode;
  private final Object a = "process a";
  private final Object b = "process b";

  @BeforeEach
  void open() throws Exception {
    file = dir.resolve("locked");
    Files.write(file, new byte[100]);
    int fd = Host.openat2(Host.AT_FDCWD, file.toString().getBytes(StandardCharsets.UTF_8), Host.O_RDWR | Host.O_CLOEXEC, 0, 0);
    assertThat(fd).isNotNegative();
    d = new HostFileDescription(fd, "/locked", Host.O_RDWR, false, true);
    inode = HostInode.of(d);
  }

  @AfterEach
  void close() {
    d.release();
  }

  @Test
  void aGuestRecordLockExcludesAHostProcessUntilUnlocked() throws Exception {
    FileLocks locks = FileLocks.mirroredOnHost(false);
    assertThat(locks.tryLock(inode, a, 1, FileLocks.Type.WRITE, 0, 9, d)).isNull();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      assertThat(ch.tryLock(0, 10, false)).isNull();
      assertThat(ch.tryLock(5, 1, true)).isNull();
      FileLock beyond = ch.tryLock(10, 10, false);
      assertThat(beyond).isNotNull();
      beyond.release();
      locks.unlock(inode, a, 0, 4);
      FileLock freed = ch.tryLock(0, 5, false);
      assertThat(freed).isNotNull();
      freed.release();
      assertThat(ch.tryLock(5, 5, false)).isNull(); // the rest of a's lock stays
      locks.releaseAll(a); // a process exiting closes its host descriptor: all its locks go
      FileLock all = ch.tryLock(0, Long.MAX_VALUE, false);
      assertThat(all).isNotNull();
      all.release();
    }
  }

  @Test
  void aHostProcesssRecordLockIsAConflictOwnedByTheHost() throws Exception {
    FileLocks locks = FileLocks.mirroredOnHost(false);
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      FileLock held = ch.lock(20, 10, false);
      FileLocks.Lock conflict = locks.tryLock(inode, b, 2, FileLocks.Type.READ, 25, 25, d);
      assertThat(conflict).isNotNull();
      assertThat(conflict.owner()).isSameAs(FileLocks.HOST);
      assertThat(locks.locksOn(inode)).isEmpty();
      // F_GETLK reports the host's lock as Linux does for a holder outside the pid namespace.
      assertThat(locks.conflict(inode, b, d, FileLocks.Type.READ, 0, FileLocks.TO_EOF))
          .isEqualTo(new FileLocks.Lock(FileLocks.HOST, 0, FileLocks.Type.WRITE, 20, 29));
      assertThat(locks.tryLock(inode, b, 2, FileLocks.Type.WRITE, 0, 19, d)).isNull(); // beside it
      // The owner's own locks are no conflict for its F_GETLK, though taken on the host.
      assertThat(locks.conflict(inode, b, d, FileLocks.Type.WRITE, 0, 19)).isNull();
      held.release();
      assertThat(locks.tryLock(inode, b, 2, FileLocks.Type.READ, 25, 25, d)).isNull();
    }
    locks.releaseAll(b);
  }

  @Test
  void anUpgradeTheHostRefusesKeepsTheLockHeld() throws Exception {
    FileLocks locks = FileLocks.mirroredOnHost(false);
    assertThat(locks.tryLock(inode, a, 1, FileLocks.Type.READ, 0, 9, d)).isNull();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      FileLock shared = ch.lock(0, 10, true);
      assertThat(locks.tryLock(inode, a, 1, FileLocks.Type.WRITE, 0, 9, d).owner()).isSameAs(FileLocks.HOST);
      assertThat(locks.locksOn(inode)).containsExactly(new FileLocks.Lock(a, 1, FileLocks.Type.READ, 0, 9));
      shared.release();
    }
    locks.releaseAll(a);
  }

  @Test
  void flockLocksExcludeTheFlockCommandBothWays() throws Exception {
    FileLocks flocks = FileLocks.mirroredOnHost(true);
    assertThat(flocks.tryLock(inode, d, 1, FileLocks.Type.WRITE, 0, FileLocks.TO_EOF, d)).isNull();
    assertThat(flockCommand("-n", "-s")).isEqualTo(1);
    flocks.unlock(inode, d, 0, FileLocks.TO_EOF);
    assertThat(flockCommand("-n")).isZero();
    assertThat(flocks.tryLock(inode, d, 1, FileLocks.Type.READ, 0, FileLocks.TO_EOF, d)).isNull();
    assertThat(flockCommand("-n", "-s")).isZero(); // shared with shared
    assertThat(flockCommand("-n")).isEqualTo(1);
    flocks.releaseAll(d);

    Process holder = new ProcessBuilder("flock", file.toString(), "-c", "echo held; read x").start();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.US_ASCII))) {
      assertThat(r.readLine()).isEqualTo("held");
      assertThat(flocks.tryLock(inode, d, 1, FileLocks.Type.READ, 0, FileLocks.TO_EOF, d).owner()).isSameAs(FileLocks.HOST);
      holder.getOutputStream().close();
      assertThat(holder.waitFor(60, TimeUnit.SECONDS)).isTrue();
    }
    assertThat(flocks.tryLock(inode, d, 1, FileLocks.Type.READ, 0, FileLocks.TO_EOF, d)).isNull();
    flocks.releaseAll(d);
  }

  @Test
  void aFileTheHostCannotLockIsLeftToTheTable() {
    FileLocks locks = FileLocks.mirroredOnHost(false);
    HostInode pipeInode = new HostInode(-1, -1);
    FileDescription notAHostFile = new FileDescription(Host.O_RDWR) {
      @Override
      public String path() {
        return "/proc/self/status";
      }

      @Override
      public void fstat(java.lang.foreign.MemorySegment stat) {}
    };
    assertThat(locks.tryLock(pipeInode, a, 1, FileLocks.Type.WRITE, 0, 9, notAHostFile)).isNull();
    assertThat(locks.tryLock(pipeInode, b, 2, FileLocks.Type.WRITE, 0, 9, notAHostFile).owner()).isSameAs(a);
    locks.releaseAll(a);
  }

  /** Runs util-linux's {@code flock OPTIONS FILE true}: 0 if it got the lock, 1 if not. */
  private int flockCommand(String... options) throws Exception {
    java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("flock"));
    cmd.addAll(java.util.List.of(options));
    cmd.addAll(java.util.List.of(file.toString(), "true"));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return p.exitValue();
  }
}
