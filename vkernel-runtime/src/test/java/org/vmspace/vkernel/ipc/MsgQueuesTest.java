package org.vmspace.vkernel.ipc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/** {@link MsgQueues}: selection by type, sizes, limits, blocking, removal, and the key/id rules. */
class MsgQueuesTest {
  private static final Cred ROOT = new Cred(10, 0, 0);
  private static final Cred USER = new Cred(11, 1000, 1000);
  private static final Cred OTHER = new Cred(12, 2000, 2000);
  private final MsgQueues queues = new MsgQueues();
  /** Platform threads for the blocked calls (the common pool may have none to spare). */
  private static final java.util.concurrent.ExecutorService POOL =
      java.util.concurrent.Executors.newCachedThreadPool(r -> Thread.ofPlatform().daemon().unstarted(r));
  private final TestSleeper sleeper = new TestSleeper();

  private static byte[] text(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  private void send(int q, long type, String s) {
    queues.send(q, type, text(s), MsgQueues.IPC_NOWAIT, USER, sleeper);
  }

  private String receive(int q, long type, int flags) {
    MsgQueues.Message m = queues.receive(q, 100, type, flags | MsgQueues.IPC_NOWAIT, USER, sleeper);
    return m.type() + ":" + new String(m.text(), StandardCharsets.US_ASCII);
  }

  private static int errno(Runnable r) {
    try {
      r.run();
    } catch (SyscallError e) {
      return e.errno();
    }
    return 0;
  }

  @Test
  void keysIdsAndCreationFlags() {
    assertThat(errno(() -> queues.get(42, 0600, USER))).isEqualTo(LinuxErrno.ENOENT);
    int q = queues.get(42, IpcIds.IPC_CREAT | IpcIds.IPC_EXCL | 0600, USER);
    assertThat(errno(() -> queues.get(42, IpcIds.IPC_CREAT | IpcIds.IPC_EXCL | 0600, USER))).isEqualTo(LinuxErrno.EEXIST);
    assertThat(queues.get(42, IpcIds.IPC_CREAT | 0600, USER)).isEqualTo(q);
    assertThat(queues.get(42, 0, USER)).isEqualTo(q);
    int p1 = queues.get(IpcIds.IPC_PRIVATE, 0600, USER);
    int p2 = queues.get(IpcIds.IPC_PRIVATE, 0600, USER);
    assertThat(p1).isNotIn(q, p2);
    // Ids are seq * 32768 + the lowest free index: a removed queue's index is reused under a new id.
    assertThat(q % IpcIds.IPCMNI).isZero();
    assertThat(p1 % IpcIds.IPCMNI).isEqualTo(1);
    queues.remove(p1, USER);
    int p3 = queues.get(IpcIds.IPC_PRIVATE, 0600, USER);
    assertThat(p3 % IpcIds.IPCMNI).isEqualTo(1);
    assertThat(p3).isNotEqualTo(p1);
    assertThat(errno(() -> queues.stat(p1, false, false, USER))).isEqualTo(LinuxErrno.EINVAL);
    assertThat(errno(() -> queues.stat(-1, false, false, USER))).isEqualTo(LinuxErrno.EINVAL);
    assertThat(queues.info(true).msgpool()).isEqualTo(3);
    assertThat(queues.info(false).highestIndex()).isEqualTo(2);
  }

  @Test
  void permissionsByOwnerGroupAndOther() {
    int q = queues.get(7, IpcIds.IPC_CREAT | 0640, USER);
    Cred group = new Cred(13, 3000, 1000);
    assertThat(errno(() -> queues.get(7, 0600, OTHER))).isEqualTo(LinuxErrno.EACCES);
    assertThat(queues.get(7, 0040, group)).isEqualTo(q);
    assertThat(errno(() -> queues.get(7, 0020, group))).isEqualTo(LinuxErrno.EACCES);
    assertThat(errno(() -> queues.send(q, 1, text("x"), MsgQueues.IPC_NOWAIT, group, sleeper)))
        .isEqualTo(LinuxErrno.EACCES);
    assertThat(errno(() -> queues.receive(q, 1, 0, MsgQueues.IPC_NOWAIT, OTHER, sleeper))).isEqualTo(LinuxErrno.EACCES);
    assertThat(queues.get(7, 0666, ROOT)).isEqualTo(q);
    assertThat(errno(() -> queues.remove(q, OTHER))).isEqualTo(LinuxErrno.EPERM);
    assertThat(errno(() -> queues.set(q, USER, 1000, 1000, 0600, MsgQueues.MSGMNB + 1))).isEqualTo(LinuxErrno.EPERM);
    queues.set(q, ROOT, 2000, 2000, 0604, MsgQueues.MSGMNB * 2L);
    MsgQueues.Stat s = queues.stat(q, false, false, OTHER);
    assertThat(s.perm().uid()).isEqualTo(2000);
    assertThat(s.perm().cuid()).isEqualTo(1000);
    assertThat(s.perm().mode()).isEqualTo(0604);
    assertThat(s.qbytes()).isEqualTo(MsgQueues.MSGMNB * 2L);
  }

  @Test
  void messagesAreChosenByTypeAsLinuxChoosesThem() {
    int q = queues.get(IpcIds.IPC_PRIVATE, 0600, USER);
    send(q, 3, "c");
    send(q, 1, "a");
    send(q, 2, "b");
    send(q, 1, "A");
    send(q, 5, "e");
    MsgQueues.Stat s = queues.stat(q, false, false, USER);
    assertThat(s.qnum()).isEqualTo(5);
    assertThat(s.cbytes()).isEqualTo(5);
    assertThat(s.lspid()).isEqualTo(USER.pid());
    assertThat(receive(q, 1, 0)).isEqualTo("1:a");
    assertThat(receive(q, 3, MsgQueues.MSG_EXCEPT)).isEqualTo("2:b");
    assertThat(receive(q, -4, 0)).isEqualTo("1:A");
    assertThat(receive(q, -4, 0)).isEqualTo("3:c");
    assertThat(errno(() -> receive(q, -4, 0))).isEqualTo(LinuxErrno.ENOMSG);
    assertThat(receive(q, 0, 0)).isEqualTo("5:e");
    assertThat(errno(() -> receive(q, 0, 0))).isEqualTo(LinuxErrno.ENOMSG);
  }

  @Test
  void sizesTruncationAndCopy() {
    int q = queues.get(IpcIds.IPC_PRIVATE, 0600, USER);
    assertThat(errno(() -> queues.send(q, 0, text("x"), 0, USER, sleeper))).isEqualTo(LinuxErrno.EINVAL);
    assertThat(errno(() -> queues.send(q, 1, new byte[MsgQueues.MSGMAX + 1], 0, USER, sleeper)))
        .isEqualTo(LinuxErrno.EINVAL);
    send(q, 1, "hello");
    send(q, 2, "world");
    assertThat(errno(() -> queues.receive(q, 4, 0, MsgQueues.IPC_NOWAIT, USER, sleeper))).isEqualTo(LinuxErrno.E2BIG);
    assertThat(queues.stat(q, false, false, USER).qnum()).isEqualTo(2);
    assertThat(errno(() -> queues.receive(q, 4, 0, MsgQueues.MSG_COPY, USER, sleeper))).isEqualTo(LinuxErrno.EINVAL);
    MsgQueues.Message copy = queues.receive(q, 100, 1, MsgQueues.MSG_COPY | MsgQueues.IPC_NOWAIT, USER, sleeper);
    assertThat(copy.type()).isEqualTo(2);
    assertThat(errno(() -> queues.receive(q, 100, 2, MsgQueues.MSG_COPY | MsgQueues.IPC_NOWAIT, USER, sleeper)))
        .isEqualTo(LinuxErrno.ENOMSG);
    MsgQueues.Message m = queues.receive(q, 4, 0, MsgQueues.MSG_NOERROR | MsgQueues.IPC_NOWAIT, USER, sleeper);
    assertThat(new String(m.text(), StandardCharsets.US_ASCII)).isEqualTo("hell");
    assertThat(queues.stat(q, false, false, USER).cbytes()).isEqualTo(5);
    assertThat(queues.stat(q, false, false, USER).lrpid()).isEqualTo(USER.pid());
  }

  @Test
  void aFullQueueBlocksTheSenderUntilThereIsRoom() throws Exception {
    int q = queues.get(IpcIds.IPC_PRIVATE, 0600, USER);
    queues.set(q, USER, USER.uid(), USER.gid(), 0600, 8);
    send(q, 1, "12345");
    assertThat(errno(() -> send(q, 1, "6789"))).isEqualTo(LinuxErrno.EAGAIN);
    CompletableFuture<Void> sender = CompletableFuture.runAsync(
        () -> queues.send(q, 2, text("6789"), 0, USER, sleeper), POOL);
    sleeper.awaitSleeping(sender);
    assertThat(sender).isNotDone();
    assertThat(receive(q, 0, 0)).isEqualTo("1:12345");
    sender.get(10, TimeUnit.SECONDS);
    assertThat(receive(q, 0, 0)).isEqualTo("2:6789");
  }

  @Test
  void aReceiverWaitsForItsTypeAndIsInterruptedOrToldOfTheRemoval() throws Exception {
    int q = queues.get(IpcIds.IPC_PRIVATE, 0600, USER);
    CompletableFuture<MsgQueues.Message> r = CompletableFuture.supplyAsync(
        () -> queues.receive(q, 100, 7, 0, USER, sleeper), POOL);
    sleeper.awaitSleeping(r);
    send(q, 6, "six");
    sleeper.awaitSleeping(r);
    assertThat(r).isNotDone();
    send(q, 7, "seven");
    assertThat(r.get(10, TimeUnit.SECONDS).type()).isEqualTo(7);

    TestSleeper interrupted = new TestSleeper();
    CompletableFuture<MsgQueues.Message> r2 = CompletableFuture.supplyAsync(
        () -> queues.receive(q, 100, 9, 0, USER, interrupted), POOL);
    interrupted.awaitSleeping(r2);
    interrupted.signal();
    assertThat(cause(r2)).isEqualTo(IpcNamespace.ERESTARTNOHAND);

    TestSleeper removed = new TestSleeper();
    CompletableFuture<MsgQueues.Message> r3 = CompletableFuture.supplyAsync(
        () -> queues.receive(q, 100, 9, 0, USER, removed), POOL);
    removed.awaitSleeping(r3);
    queues.remove(q, USER);
    assertThat(cause(r3)).isEqualTo(LinuxErrno.EIDRM);
    assertThat(errno(() -> send(q, 1, "x"))).isEqualTo(LinuxErrno.EINVAL);
  }

  static int cause(CompletableFuture<?> f) throws InterruptedException, java.util.concurrent.TimeoutException {
    try {
      f.get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      assertThat(e.getCause()).isInstanceOf(SyscallError.class);
      return ((SyscallError) e.getCause()).errno();
    }
    throw new AssertionError("no error");
  }

  @Test
  void infoReportsLinuxDefaults() {
    MsgQueues.Info i = queues.info(false);
    assertThat(i.msgmax()).isEqualTo(8192);
    assertThat(i.msgmnb()).isEqualTo(16384);
    assertThat(i.msgmni()).isEqualTo(32000);
    assertThat(i.highestIndex()).isZero();
    assertThatThrownBy(() -> queues.idAt(0)).isInstanceOf(SyscallError.class);
  }
}
