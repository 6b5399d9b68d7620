package org.vmspace.vkernel.proc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.VmspaceService;
import org.vmspace.vkernel.elf.Vdso;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.SignalFdInfo;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * signalfd's queue logic on the host: which signals a read takes and in what order, the records,
 * the errors, and the readiness of its host eventfd as signals become pending and are taken, the
 * mask changes, and processes watch it or exit. The service is mocked only so that a kernel,
 * processes and threads can exist without KVM; no guest runs.
 */
class SignalFdTest {
  private final Arena arena = Arena.ofAuto();
  private Kernel kernel;
  private ThreadGroup proc;
  private Task thread;

  /**
   * Removes the kernel's private /dev/shm directory from the host. Not the kernel's whole close:
   * that waits for this test's tasks, which never start, to end.
   */
  @AfterEach
  void tearDown() {
    kernel.vfs().close();
  }

  @BeforeEach
  void setUp() {
    VmspaceService vms = mock(VmspaceService.class);
    MemoryObject vdso = mock(MemoryObject.class);
    when(vdso.segment()).thenReturn(arena.allocate(Vdso.SIZE, 4096));
    when(vms.createMemoryObject(anyLong())).thenReturn(vdso);
    kernel = new Kernel(vms, KernelConfig.builder().root(Path.of("/"), false).build(), k -> null);
    proc = process(100);
    thread = proc.threads.get(0);
  }

  private ThreadGroup process(int pid) {
    ThreadGroup p = new ThreadGroup(kernel, pid, 0, 0);
    p.threads.add(new Task(kernel, p, pid));
    return p;
  }

  private static long bits(int... sigs) {
    long m = 0;
    for (int s : sigs) {
      m |= Signals.bit(s);
    }
    return m;
  }

  private boolean readable(SignalFd s) {
    MemorySegment p = arena.allocate(8, 4);
    p.set(ValueLayout.JAVA_INT, 0, s.hostFd());
    p.set(ValueLayout.JAVA_SHORT, 4, (short) 1);
    assertThat(Host.poll(p, 1, 0)).isGreaterThanOrEqualTo(0);
    return (p.get(ValueLayout.JAVA_SHORT, 6) & 1) != 0;
  }

  private int[] readSignals(SignalFd s, Task t, int records) {
    MemorySegment buf = arena.allocate(128L * records, 8);
    long n = s.read(t, buf, 128L * records);
    assertThat(n % 128).isZero();
    int[] sigs = new int[(int) (n / 128)];
    for (int i = 0; i < sigs.length; i++) {
      sigs[i] = buf.get(ValueLayout.JAVA_INT, 128L * i);
    }
    return sigs;
  }

  private static void assertErrno(Runnable r, int errno) {
    assertThatThrownBy(r::run).isInstanceOf(SyscallError.class)
        .satisfies(e -> assertThat(((SyscallError) e).errno()).isEqualTo(errno));
  }

  @Test
  void aBlockedProcessSignalMakesItReadableUntilRead() {
    thread.signals().mask(bits(Signals.SIGUSR1));
    SignalFd s = SignalFd.create(proc, bits(Signals.SIGUSR1), SignalFdInfo.SFD_NONBLOCK);
    assertThat(readable(s)).isFalse();
    TaskSignals.postProcess(proc, Signals.SIGUSR1, SigInfo.user(Signals.SIGUSR1, 7, 0));
    assertThat(readable(s)).isTrue();
    MemorySegment buf = arena.allocate(128, 8);
    assertThat(s.read(thread, buf, 128)).isEqualTo(128);
    assertThat(buf.get(ValueLayout.JAVA_INT, 0)).isEqualTo(Signals.SIGUSR1);
    assertThat(buf.get(ValueLayout.JAVA_INT, 12)).isEqualTo(7);
    assertThat(readable(s)).isFalse();
    assertThat(proc.pending()).isZero();
    assertErrno(() -> s.read(thread, buf, 128), LinuxErrno.EAGAIN);
  }

  @Test
  void threadSignalsComeFirstThenTheProcesssInNumberOrder() {
    thread.signals().mask(bits(Signals.SIGUSR1, Signals.SIGUSR2, Signals.SIGTERM));
    SignalFd s = SignalFd.create(proc, bits(Signals.SIGUSR1, Signals.SIGUSR2, Signals.SIGTERM), SignalFdInfo.SFD_NONBLOCK);
    TaskSignals.postProcess(proc, Signals.SIGUSR1, SigInfo.user(Signals.SIGUSR1, 1, 0));
    thread.signals().post(Signals.SIGTERM, new SigInfo(Signals.SIGTERM, SigInfo.SI_TKILL, 1, 0, 0, 0));
    thread.signals().post(Signals.SIGUSR2, new SigInfo(Signals.SIGUSR2, SigInfo.SI_TKILL, 1, 0, 0, 0));
    assertThat(readSignals(s, thread, 2)).containsExactly(Signals.SIGUSR2, Signals.SIGTERM);
    assertThat(readable(s)).isTrue();
    assertThat(readSignals(s, thread, 4)).containsExactly(Signals.SIGUSR1);
    assertThat(readable(s)).isFalse();
  }

  @Test
  void signalsOutsideTheMaskAreLeftAlone() {
    thread.signals().mask(bits(Signals.SIGUSR1, Signals.SIGUSR2));
    SignalFd s = SignalFd.create(proc, bits(Signals.SIGUSR1), SignalFdInfo.SFD_NONBLOCK);
    TaskSignals.postProcess(proc, Signals.SIGUSR2, SigInfo.user(Signals.SIGUSR2, 1, 0));
    assertThat(readable(s)).isFalse();
    assertErrno(() -> readSignals(s, thread, 1), LinuxErrno.EAGAIN);
    assertThat(proc.pending()).isEqualTo(bits(Signals.SIGUSR2));
    // signalfd4 on the descriptor: the new mask counts at once.
    s.mask(bits(Signals.SIGUSR2));
    assertThat(readable(s)).isTrue();
    assertThat(readSignals(s, thread, 1)).containsExactly(Signals.SIGUSR2);
  }

  @Test
  void aBlockedChildSignalIsKeptForTheSignalfd() {
    // SIGCHLD is ignored by default, so it is discarded unless every thread blocks it.
    SignalFd s = SignalFd.create(proc, bits(Signals.SIGCHLD), SignalFdInfo.SFD_NONBLOCK);
    TaskSignals.postProcess(proc, Signals.SIGCHLD, new SigInfo(Signals.SIGCHLD, SigInfo.CLD_EXITED, 5, 0, 0, 3));
    assertThat(readable(s)).isFalse();
    thread.signals().mask(bits(Signals.SIGCHLD));
    TaskSignals.postProcess(proc, Signals.SIGCHLD, new SigInfo(Signals.SIGCHLD, SigInfo.CLD_EXITED, 5, 0, 0, 3));
    assertThat(readable(s)).isTrue();
    MemorySegment buf = arena.allocate(128, 8);
    s.read(thread, buf, 128);
    assertThat(buf.get(ValueLayout.JAVA_INT, 8)).isEqualTo(SigInfo.CLD_EXITED);
    assertThat(buf.get(ValueLayout.JAVA_INT, 12)).isEqualTo(5);
    assertThat(buf.get(ValueLayout.JAVA_INT, 40)).isEqualTo(3);
  }

  @Test
  void killAndStopAreDroppedFromTheMask() {
    SignalFd s = SignalFd.create(proc, bits(Signals.SIGKILL, Signals.SIGSTOP, Signals.SIGINT), 0);
    assertThat(s.mask()).isEqualTo(bits(Signals.SIGINT));
    s.mask(-1L);
    assertThat(s.mask()).isEqualTo(-1L & ~Signals.UNBLOCKABLE);
  }

  @Test
  void shortBuffersAndWritesAreInvalid() {
    SignalFd s = SignalFd.create(proc, bits(Signals.SIGUSR1), SignalFdInfo.SFD_NONBLOCK);
    MemorySegment buf = arena.allocate(128, 8);
    assertErrno(() -> s.read(thread, buf, 127), LinuxErrno.EINVAL);
    assertErrno(() -> s.write(buf, 8), LinuxErrno.EINVAL);
    assertThat(s.nonBlocking()).isTrue();
    assertThat(SignalFd.create(proc, 0, 0).nonBlocking()).isFalse();
  }

  @Test
  void anotherWatchingProcessesSignalsCountAndItsExitEndsThat() {
    ThreadGroup other = process(200);
    other.threads.get(0).signals().mask(bits(Signals.SIGUSR1));
    SignalFd s = SignalFd.create(proc, bits(Signals.SIGUSR1), SignalFdInfo.SFD_NONBLOCK);
    TaskSignals.postProcess(other, Signals.SIGUSR1, SigInfo.user(Signals.SIGUSR1, 1, 0));
    assertThat(readable(s)).as("the other process does not watch it yet").isFalse();
    s.watch(other);
    assertThat(readable(s)).isTrue();
    // Only the reader's own signals are read.
    assertErrno(() -> readSignals(s, thread, 1), LinuxErrno.EAGAIN);
    assertThat(readSignals(s, other.threads.get(0), 1)).containsExactly(Signals.SIGUSR1);
    assertThat(readable(s)).isFalse();
    TaskSignals.postProcess(other, Signals.SIGUSR1, SigInfo.user(Signals.SIGUSR1, 1, 0));
    assertThat(readable(s)).isTrue();
    other.unwatchSignalFds();
    assertThat(readable(s)).isFalse();
    assertThat(other.signalFds).isEmpty();
  }

  @Test
  void closingItForgetsTheProcesses() {
    SignalFd s = SignalFd.create(proc, bits(Signals.SIGUSR1), 0);
    assertThat(proc.signalFds).containsExactly(s);
    s.release();
    assertThat(proc.signalFds).isEmpty();
    // A signal after the close touches no closed descriptor.
    thread.signals().mask(bits(Signals.SIGUSR1));
    TaskSignals.postProcess(proc, Signals.SIGUSR1, SigInfo.user(Signals.SIGUSR1, 1, 0));
    assertThat(proc.pending()).isEqualTo(bits(Signals.SIGUSR1));
  }

  @Test
  void aDispositionThatIgnoresTheSignalDiscardsItAndTheReadiness() {
    thread.signals().mask(bits(Signals.SIGUSR1));
    SignalFd s = SignalFd.create(proc, bits(Signals.SIGUSR1), SignalFdInfo.SFD_NONBLOCK);
    TaskSignals.postProcess(proc, Signals.SIGUSR1, SigInfo.user(Signals.SIGUSR1, 1, 0));
    assertThat(readable(s)).isTrue();
    proc.action(Signals.SIGUSR1, new org.vmspace.vkernel.signal.SigAction(org.vmspace.vkernel.signal.SigAction.SIG_IGN, 0, 0, 0));
    assertThat(readable(s)).isFalse();
  }

  // ------------------------------------------------------------ poll and select, per thread

  private Task secondThread() {
    Task b = new Task(kernel, proc, 101);
    proc.threads.add(b);
    return b;
  }

  @Test
  void pollReadinessIsThePollingThreadsOwnSignalsAndItsProcesss() {
    Task b = secondThread();
    thread.signals().mask(bits(Signals.SIGUSR1));
    b.signals().mask(bits(Signals.SIGUSR1));
    SignalFd s = SignalFd.create(proc, bits(Signals.SIGUSR1), SignalFdInfo.SFD_NONBLOCK);
    b.signals().post(Signals.SIGUSR1, new SigInfo(Signals.SIGUSR1, SigInfo.SI_TKILL, 1, 0, 0, 0));
    assertThat(s.readableFor(thread)).as("a signal pending for another thread only").isFalse();
    assertThat(s.readableFor(b)).isTrue();
    assertThat(readSignals(s, b, 1)).containsExactly(Signals.SIGUSR1);
    assertThat(s.readableFor(b)).isFalse();
    TaskSignals.postProcess(proc, Signals.SIGUSR1, SigInfo.user(Signals.SIGUSR1, 1, 0));
    assertThat(s.readableFor(thread)).as("a process-directed signal, for every thread").isTrue();
    assertThat(s.readableFor(b)).isTrue();
    s.mask(bits(Signals.SIGUSR2));
    assertThat(s.readableFor(thread)).as("outside the new mask").isFalse();
    // A thread that does not block it still sees it pending until it is delivered.
    thread.signals().mask(0);
    s.mask(bits(Signals.SIGUSR1));
    assertThat(s.readableFor(thread)).isTrue();
  }

  /**
   * Runs {@code t}'s side of a poll over {@code s} on a thread of its own (a blocker's buffers
   * belong to the thread that opens them): the wait's outcome, or TIMEOUT after {@code millis}.
   * {@code whileWaiting} runs on the test's thread once the poll is registered.
   */
  private Blocker.Wait pollWait(Task t, SignalFd s, long millis, Runnable whileWaiting) throws Exception {
    java.util.concurrent.CountDownLatch registered = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CompletableFuture<Blocker.Wait> result = new java.util.concurrent.CompletableFuture<>();
    Thread waiter = Thread.ofPlatform().start(() -> {
      t.blocker().open();
      MemorySegment none = arena.allocate(8, 8);
      // Wakes counted before (a tgkill to a thread that was not waiting) are read first.
      t.blocker().awaitMany(none, 0, System.nanoTime(), false);
      try (SignalFd.Polling _ = SignalFd.Polling.start(t, new SignalFd[] {s})) {
        registered.countDown();
        result.complete(t.blocker().awaitMany(none, 0, System.nanoTime() + millis * 1_000_000, true));
      } catch (Throwable e) {
        result.completeExceptionally(e);
      }
    });
    registered.await();
    whileWaiting.run();
    Blocker.Wait w = result.get(30, java.util.concurrent.TimeUnit.SECONDS);
    waiter.join();
    return w;
  }

  @Test
  void aWaitingPollIsWokenBySignalsForItsThreadOrProcessOnly() throws Exception {
    Task b = secondThread();
    thread.signals().mask(bits(Signals.SIGUSR1, Signals.SIGUSR2));
    b.signals().mask(bits(Signals.SIGUSR1, Signals.SIGUSR2));
    SignalFd s = SignalFd.create(proc, bits(Signals.SIGUSR1), SignalFdInfo.SFD_NONBLOCK);
    SigInfo tkill = new SigInfo(Signals.SIGUSR1, SigInfo.SI_TKILL, 1, 0, 0, 0);
    assertThat(pollWait(thread, s, 300, () -> b.signals().post(Signals.SIGUSR1, tkill)))
        .as("a signal for another thread leaves the poll waiting").isEqualTo(Blocker.Wait.TIMEOUT);
    assertThat(pollWait(thread, s, 300, () -> TaskSignals.postProcess(proc, Signals.SIGUSR2,
        SigInfo.user(Signals.SIGUSR2, 1, 0)))).as("a signal outside the mask").isEqualTo(Blocker.Wait.TIMEOUT);
    assertThat(pollWait(thread, s, 20_000, () -> thread.signals().post(Signals.SIGUSR1, tkill)))
        .as("a blocked signal sent to the polling thread").isEqualTo(Blocker.Wait.WOKEN);
    assertThat(s.readableFor(thread)).isTrue();
    assertThat(readSignals(s, thread, 1)).containsExactly(Signals.SIGUSR1);
    assertThat(readSignals(s, b, 1)).containsExactly(Signals.SIGUSR1);
    // A process-directed one wakes a poll in every thread, not only the one chosen to take it.
    for (Task t : java.util.List.of(thread, b)) {
      assertThat(pollWait(t, s, 20_000, () -> TaskSignals.postProcess(proc, Signals.SIGUSR1,
          SigInfo.user(Signals.SIGUSR1, 1, 0)))).as("kill for %d", t.tid).isEqualTo(Blocker.Wait.WOKEN);
      assertThat(readSignals(s, t, 1)).containsExactly(Signals.SIGUSR1);
    }
    // signalfd4 through the descriptor: its pollers evaluate the new mask.
    TaskSignals.postProcess(proc, Signals.SIGUSR2, SigInfo.user(Signals.SIGUSR2, 1, 0));
    assertThat(pollWait(b, s, 20_000, () -> s.mask(bits(Signals.SIGUSR2)))).isEqualTo(Blocker.Wait.WOKEN);
    assertThat(s.readableFor(b)).isTrue();
  }

  @Test
  void anEndedPollIsNotWokenAndItsThreadIsForgotten() throws Exception {
    thread.signals().mask(bits(Signals.SIGUSR1));
    SignalFd s = SignalFd.create(proc, bits(Signals.SIGUSR1), SignalFdInfo.SFD_NONBLOCK);
    SignalFd.Polling p = SignalFd.Polling.start(thread, new SignalFd[] {s});
    assertThat(thread.signals().pollsFor(Signals.SIGUSR1)).isTrue();
    assertThat(thread.signals().pollsFor(Signals.SIGUSR2)).isFalse();
    p.close();
    assertThat(thread.signals().pollsFor(Signals.SIGUSR1)).isFalse();
    // A poll that is not woken ends at its deadline.
    assertThat(pollWait(thread, s, 200, () -> { })).isEqualTo(Blocker.Wait.TIMEOUT);
  }
}
