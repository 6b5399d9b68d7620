package org.vmspace.vkernel.ipc;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/** {@link SemArrays}: atomic operations, limits, waiting, SEM_UNDO at exit, removal. */
class SemArraysTest {
  private static final Cred A = new Cred(20, 1000, 1000);
  private static final Cred B = new Cred(21, 1000, 1000);
  private final SemArrays sems = new SemArrays();
  /** Platform threads for the blocked calls (the common pool may have none to spare). */
  private static final java.util.concurrent.ExecutorService POOL =
      java.util.concurrent.Executors.newCachedThreadPool(r -> Thread.ofPlatform().daemon().unstarted(r));
  private final TestSleeper sleeper = new TestSleeper();

  private static int errno(Runnable r) {
    try {
      r.run();
    } catch (SyscallError e) {
      return e.errno();
    }
    return 0;
  }

  private static SemArrays.Op op(int num, int delta, int flags) {
    return new SemArrays.Op(num, delta, flags);
  }

  private void semop(int id, Cred who, SemArrays.Op... ops) {
    sems.semop(id, List.of(ops), who, 0, sleeper);
  }

  @Test
  void getChecksCountsAndExistingSets() {
    assertThat(errno(() -> sems.get(IpcIds.IPC_PRIVATE, 0, 0600, A))).isEqualTo(LinuxErrno.EINVAL);
    assertThat(errno(() -> sems.get(IpcIds.IPC_PRIVATE, SemArrays.SEMMSL + 1, 0600, A))).isEqualTo(LinuxErrno.EINVAL);
    assertThat(errno(() -> sems.get(IpcIds.IPC_PRIVATE, -1, 0600, A))).isEqualTo(LinuxErrno.EINVAL);
    int s = sems.get(5, 3, IpcIds.IPC_CREAT | 0600, A);
    assertThat(sems.get(5, 0, 0, A)).isEqualTo(s);
    assertThat(sems.get(5, 3, 0, A)).isEqualTo(s);
    assertThat(errno(() -> sems.get(5, 4, 0, A))).isEqualTo(LinuxErrno.EINVAL);
    assertThat(sems.stat(s, false, false, A).nsems()).isEqualTo(3);
    assertThat(sems.info(true).semaem()).isEqualTo(3);
    sems.remove(s, A);
    assertThat(sems.info(true).semaem()).isZero();
    assertThat(errno(() -> sems.get(5, 3, 0, A))).isEqualTo(LinuxErrno.ENOENT);
  }

  @Test
  void operationsAreAllOrNothing() {
    int s = sems.get(IpcIds.IPC_PRIVATE, 3, 0600, A);
    sems.setValues(s, new int[] {1, 0, 5}, A);
    assertThat(errno(() -> semop(s, A, op(2, -1, 0), op(0, -2, SemArrays.IPC_NOWAIT)))).isEqualTo(LinuxErrno.EAGAIN);
    assertThat(sems.values(s, A)).containsExactly(1, 0, 5);
    // In order: the second sees the first's result.
    semop(s, A, op(1, 2, 0), op(1, -1, 0), op(0, -1, 0));
    assertThat(sems.values(s, A)).containsExactly(0, 1, 5);
    assertThat(sems.pid(s, 1, A)).isEqualTo(A.pid());
    assertThat(errno(() -> semop(s, A, op(2, 0, SemArrays.IPC_NOWAIT)))).isEqualTo(LinuxErrno.EAGAIN);
    assertThat(errno(() -> semop(s, A, op(3, 1, 0)))).isEqualTo(LinuxErrno.EFBIG);
    assertThat(errno(() -> semop(s, A, op(2, SemArrays.SEMVMX, 0)))).isEqualTo(LinuxErrno.ERANGE);
    assertThat(errno(() -> sems.semop(s, List.of(), A, 0, sleeper))).isEqualTo(LinuxErrno.EINVAL);
    assertThat(errno(() -> sems.semop(s, java.util.Collections.nCopies(SemArrays.SEMOPM + 1, op(0, 0, 0)), A, 0,
        sleeper))).isEqualTo(LinuxErrno.E2BIG);
    assertThat(errno(() -> sems.setValue(s, 0, SemArrays.SEMVMX + 1, A))).isEqualTo(LinuxErrno.ERANGE);
    assertThat(errno(() -> sems.setValue(s, 3, 1, A))).isEqualTo(LinuxErrno.EINVAL);
    assertThat(errno(() -> sems.value(s, -1, A))).isEqualTo(LinuxErrno.EINVAL);
    assertThat(errno(() -> semop(s, new Cred(30, 2000, 2000), op(0, 1, 0)))).isEqualTo(LinuxErrno.EACCES);
  }

  @Test
  void aTimedWaitEndsWithEagain() {
    int s = sems.get(IpcIds.IPC_PRIVATE, 1, 0600, A);
    long t0 = System.nanoTime();
    assertThat(errno(() -> sems.semop(s, List.of(op(0, -1, 0)), A, System.nanoTime() + 30_000_000, sleeper)))
        .isEqualTo(LinuxErrno.EAGAIN);
    assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(30_000_000);
  }

  @Test
  void waitersAreCountedWokenInterruptedAndToldOfTheRemoval() throws Exception {
    int s = sems.get(IpcIds.IPC_PRIVATE, 2, 0600, A);
    sems.setValue(s, 1, 1, A);
    CompletableFuture<Void> down = CompletableFuture.runAsync(() -> semop(s, B, op(0, -1, 0)), POOL);
    sleeper.awaitSleeping(down);
    TestSleeper zero = new TestSleeper();
    CompletableFuture<Void> waitZero = CompletableFuture.runAsync(
        () -> sems.semop(s, List.of(op(1, 0, 0)), B, 0, zero), POOL);
    zero.awaitSleeping(waitZero);
    assertThat(sems.waiting(s, 0, false, A)).isEqualTo(1);
    assertThat(sems.waiting(s, 1, true, A)).isEqualTo(1);
    assertThat(sems.waiting(s, 1, false, A)).isZero();
    semop(s, A, op(0, 1, 0));
    down.get(10, TimeUnit.SECONDS);
    assertThat(sems.value(s, 0, A)).isZero();
    semop(s, A, op(1, -1, 0));
    waitZero.get(10, TimeUnit.SECONDS);

    TestSleeper interrupted = new TestSleeper();
    CompletableFuture<Void> r = CompletableFuture.runAsync(() -> sems.semop(s, List.of(op(0, -1, 0)), B, 0, interrupted), POOL);
    interrupted.awaitSleeping(r);
    interrupted.signal();
    assertThat(MsgQueuesTest.cause(r)).isEqualTo(LinuxErrno.EINTR);

    TestSleeper removed = new TestSleeper();
    CompletableFuture<Void> r2 = CompletableFuture.runAsync(() -> sems.semop(s, List.of(op(0, -1, 0)), B, 0, removed), POOL);
    removed.awaitSleeping(r2);
    sems.remove(s, A);
    assertThat(MsgQueuesTest.cause(r2)).isEqualTo(LinuxErrno.EIDRM);
    assertThat(errno(() -> semop(s, A, op(0, 1, 0)))).isEqualTo(LinuxErrno.EINVAL);
  }

  @Test
  void undoIsAppliedAtExitClampedAndClearedBySetval() {
    int s = sems.get(IpcIds.IPC_PRIVATE, 3, 0600, A);
    semop(s, B, op(0, 3, SemArrays.SEM_UNDO), op(1, 2, SemArrays.SEM_UNDO), op(2, 4, SemArrays.SEM_UNDO));
    semop(s, B, op(0, -1, SemArrays.SEM_UNDO));
    assertThat(sems.adjustment(B.pid(), s, 0)).isEqualTo(-2);
    assertThat(sems.adjustment(A.pid(), s, 0)).isZero();
    semop(s, A, op(1, -2, 0)); // what B added to sem 1 is taken by A
    sems.setValue(s, 2, 10, A); // clears everyone's adjustment of sem 2
    assertThat(sems.adjustment(B.pid(), s, 2)).isZero();
    sems.exit(B.pid());
    assertThat(sems.values(s, A)).containsExactly(0, 0, 10);
    assertThat(sems.pid(s, 0, A)).isEqualTo(B.pid());
    assertThat(sems.adjustment(B.pid(), s, 0)).isZero();
    sems.exit(B.pid()); // nothing left to undo
    assertThat(sems.values(s, A)).containsExactly(0, 0, 10);
  }

  @Test
  void undoOutOfRangeIsErangeAndARemovedSetIsNotUndone() {
    int s = sems.get(IpcIds.IPC_PRIVATE, 1, 0600, A);
    sems.setValue(s, 0, SemArrays.SEMVMX, A);
    semop(s, B, op(0, -SemArrays.SEMVMX, SemArrays.SEM_UNDO));
    semop(s, A, op(0, SemArrays.SEMVMX, 0));
    assertThat(errno(() -> semop(s, B, op(0, -1, SemArrays.SEM_UNDO)))).isEqualTo(LinuxErrno.ERANGE);
    sems.exit(B.pid());
    assertThat(sems.value(s, 0, A)).isEqualTo(SemArrays.SEMVMX); // clamped
    semop(s, B, op(0, -5, SemArrays.SEM_UNDO));
    int t = sems.get(IpcIds.IPC_PRIVATE, 1, 0600, A);
    sems.remove(s, A);
    sems.exit(B.pid());
    assertThat(sems.value(t, 0, A)).isZero();
  }
}
