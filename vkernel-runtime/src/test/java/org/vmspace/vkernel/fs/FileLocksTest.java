package org.vmspace.vkernel.fs;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link FileLocks} against a byte-by-byte model, and its waiting and deadlock rules. */
class FileLocksTest {
  private static final HostInode FILE = new HostInode(1, 2);
  private static final HostInode OTHER = new HostInode(1, 3);
  /** Bytes the model tracks: ranges end below 64, or at TO_EOF, which covers 64..79 too. */
  private static final int CELLS = 80;

  private final FileLocks locks = new FileLocks();
  private final Object a = "process a";
  private final Object b = "process b";
  private final Object c = "process c";

  @Test
  void readLocksShareAndWriteLocksExclude() {
    assertThat(locks.tryLock(FILE, a, 1, FileLocks.Type.READ, 0, 9)).isNull();
    assertThat(locks.tryLock(FILE, b, 2, FileLocks.Type.READ, 5, 14)).isNull();
    FileLocks.Lock conflict = locks.tryLock(FILE, c, 3, FileLocks.Type.WRITE, 9, 9);
    assertThat(conflict).isNotNull();
    assertThat(conflict.pid()).isIn(1, 2);
    assertThat(locks.tryLock(FILE, c, 3, FileLocks.Type.WRITE, 15, FileLocks.TO_EOF)).isNull();
    assertThat(locks.conflict(FILE, a, FileLocks.Type.READ, 100, 200)).isEqualTo(
        new FileLocks.Lock(c, 3, FileLocks.Type.WRITE, 15, FileLocks.TO_EOF));
    assertThat(locks.conflict(OTHER, a, FileLocks.Type.WRITE, 0, FileLocks.TO_EOF)).isNull();
  }

  @Test
  void anOwnersLocksSplitAndCoalesceAsLinuxReportsThem() {
    locks.tryLock(FILE, a, 1, FileLocks.Type.WRITE, 0, 9);
    locks.tryLock(FILE, a, 1, FileLocks.Type.WRITE, 10, 19); // touches: one lock [0,19]
    assertThat(locks.locksOn(FILE)).containsExactly(new FileLocks.Lock(a, 1, FileLocks.Type.WRITE, 0, 19));
    locks.tryLock(FILE, a, 1, FileLocks.Type.READ, 5, 9); // splits it in three
    assertThat(locks.locksOn(FILE)).containsExactlyInAnyOrder(
        new FileLocks.Lock(a, 1, FileLocks.Type.WRITE, 0, 4),
        new FileLocks.Lock(a, 1, FileLocks.Type.READ, 5, 9),
        new FileLocks.Lock(a, 1, FileLocks.Type.WRITE, 10, 19));
    locks.unlock(FILE, a, 3, 12);
    assertThat(locks.locksOn(FILE)).containsExactlyInAnyOrder(
        new FileLocks.Lock(a, 1, FileLocks.Type.WRITE, 0, 2),
        new FileLocks.Lock(a, 1, FileLocks.Type.WRITE, 13, 19));
    locks.releaseAll(a);
    assertThat(locks.locksOn(FILE)).isEmpty();
    assertThat(locks.holdsAny(a)).isFalse();
  }

  @Test
  void freeingARangeWakesTheFilesWaitersOnly() {
    AtomicInteger woken = new AtomicInteger();
    AtomicInteger elsewhere = new AtomicInteger();
    locks.tryLock(FILE, a, 1, FileLocks.Type.WRITE, 0, 0);
    locks.wakeOnChange(FILE, woken::incrementAndGet);
    locks.wakeOnChange(OTHER, elsewhere::incrementAndGet);
    locks.tryLock(FILE, b, 2, FileLocks.Type.READ, 5, 5); // nothing freed
    assertThat(woken).hasValue(0);
    locks.unlock(FILE, a, 0, 0);
    assertThat(woken).hasValue(1);
    assertThat(elsewhere).hasValue(0);
  }

  @Test
  void waitingInACycleIsRefused() {
    assertThat(locks.waitFor(a, b)).isTrue();
    assertThat(locks.waitFor(b, c)).isTrue();
    assertThat(locks.waitFor(c, a)).as("c -> a -> b -> c").isFalse();
    locks.doneWaiting(b);
    assertThat(locks.waitFor(c, a)).as("b no longer waits").isTrue();
  }

  @Test
  void aChainLongerThanLinuxFollowsIsNotADeadlock() {
    List<Object> owners = new ArrayList<>();
    for (int i = 0; i <= FileLocks.MAX_DEADLOCK_CHAIN + 1; i++) {
      owners.add("owner " + i);
    }
    for (int i = 0; i + 1 < owners.size(); i++) {
      assertThat(locks.waitFor(owners.get(i), owners.get(i + 1))).isTrue();
    }
    assertThat(locks.waitFor(owners.getLast(), owners.getFirst())).isTrue();
  }

  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3, 42, 2026})
  void randomOperationsMatchTheModel(long seed) {
    Random rnd = new Random(seed);
    Object[] owners = {a, b, c};
    // model[o][i]: 0 free, 1 read, 2 write
    int[][] model = new int[owners.length][CELLS];
    for (int step = 0; step < 3000; step++) {
      int o = rnd.nextInt(owners.length);
      int start = rnd.nextInt(64);
      boolean toEof = rnd.nextInt(5) == 0;
      int end = toEof ? CELLS - 1 : start + rnd.nextInt(64 - start);
      long realEnd = toEof ? FileLocks.TO_EOF : end;
      int op = rnd.nextInt(4);
      if (op == 3) {
        locks.unlock(FILE, owners[o], start, realEnd);
        for (int i = start; i <= end; i++) {
          model[o][i] = 0;
        }
      } else {
        FileLocks.Type type = op == 0 ? FileLocks.Type.WRITE : FileLocks.Type.READ;
        boolean conflicts = false;
        for (int other = 0; other < owners.length; other++) {
          for (int i = start; i <= end && other != o; i++) {
            conflicts |= model[other][i] == 2 || (model[other][i] == 1 && type == FileLocks.Type.WRITE);
          }
        }
        FileLocks.Lock got = locks.tryLock(FILE, owners[o], o, type, start, realEnd);
        assertThat(got != null).as("step %d: conflict", step).isEqualTo(conflicts);
        if (got != null) {
          assertThat(got.owner()).isNotSameAs(owners[o]);
          assertThat(got.start() <= realEnd && start <= got.end()).isTrue();
        } else {
          for (int i = start; i <= end; i++) {
            model[o][i] = type == FileLocks.Type.WRITE ? 2 : 1;
          }
        }
      }
      assertMatches(model, owners, step);
    }
  }

  private void assertMatches(int[][] model, Object[] owners, int step) {
    int[][] seen = new int[owners.length][CELLS];
    List<FileLocks.Lock> all = locks.locksOn(FILE);
    for (FileLocks.Lock l : all) {
      int o = List.of(owners).indexOf(l.owner());
      long end = l.end() == FileLocks.TO_EOF ? CELLS - 1 : l.end();
      assertThat(end).as("step %d: only TO_EOF locks reach past 63: %s", step, l).isLessThan(CELLS);
      for (long i = l.start(); i <= end; i++) {
        assertThat(seen[o][(int) i]).as("step %d: an owner's locks overlap at %d", step, i).isZero();
        seen[o][(int) i] = l.type() == FileLocks.Type.WRITE ? 2 : 1;
      }
      for (FileLocks.Lock m : all) {
        if (m != l && m.owner() == l.owner() && m.type() == l.type()) {
          assertThat(m.start() > l.end() + 1 || l.start() > m.end() + 1 || l.end() == FileLocks.TO_EOF
              || m.end() == FileLocks.TO_EOF).as("step %d: same-type locks coalesce: %s %s", step, l, m).isTrue();
        }
      }
    }
    for (int o = 0; o < owners.length; o++) {
      assertThat(seen[o]).as("step %d: owner %d", step, o).isEqualTo(model[o]);
    }
  }
}
