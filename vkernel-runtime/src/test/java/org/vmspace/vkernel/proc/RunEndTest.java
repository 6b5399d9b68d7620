package org.vmspace.vkernel.proc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.Mockito.doThrow;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.vmspace.api.Errno;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceService;
import org.vmspace.vkernel.elf.Vdso;
import org.vmspace.vkernel.fs.FdTable;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.signal.Signals;

/**
 * {@link RunEnd}: the kill of every guest at once. Once the kernel is ending, a task's exit leaves
 * the tables alone; the end comes when every task made has ended (or was discarded unstarted);
 * the tear-down then gives each process the status that ended it, releases its resources (not
 * when a task may still run, nor when the process's exit will), traces its end, empties the
 * tables and readies the kernel for the next run. Tasks exit through {@link
 * TaskExit#threadExited}, the production path; the count of their loops' ends is what {@link
 * Task#run} does last. The service is mocked so that a kernel exists without KVM; no guest runs.
 */
class RunEndTest {
  private final Arena arena = Arena.ofAuto();
  private final ByteArrayOutputStream traced = new ByteArrayOutputStream();
  private VmspaceService vms;
  private Kernel kernel;

  @AfterEach
  void tearDown() {
    if (kernel != null) {
      kernel.close();
    }
  }

  private Kernel kernel(boolean exitsWithProcess) {
    vms = mock(VmspaceService.class);
    MemoryObject vdso = mock(MemoryObject.class);
    when(vdso.segment()).thenReturn(arena.allocate(Vdso.SIZE, 4096));
    when(vms.createMemoryObject(anyLong())).thenReturn(vdso);
    PrintStream trace = new PrintStream(traced, true, StandardCharsets.UTF_8);
    kernel = new Kernel(vms, KernelConfig.builder().root(Path.of("/"), false).trace(trace)
        .exitsWithProcess(exitsWithProcess).build(), k -> null);
    return kernel;
  }

  /** A process with {@code threads} tasks (not started), entered in the tables as fork and clone do. */
  private ThreadGroup process(int pid, int threads) {
    kernel.lock.lock();
    try {
      ThreadGroup p = new ThreadGroup(kernel, pid, 1000, 1000);
      for (int i = 0; i < threads; i++) {
        Task t = new Task(kernel, p, pid + i);
        p.threads.add(t);
        kernel.tasks.put(t.tid, t);
      }
      kernel.processes.put(pid, p);
      return p;
    } finally {
      kernel.lock.unlock();
    }
  }

  /** The end of a task's loop after the kill: its exit, then what {@link Task#run} does last. */
  private void loopEnds(Task t) {
    TaskExit.threadExited(t);
    t.discard();
  }

  /**
   * A descriptor table holding the write end of a new non-blocking pipe; the read end, which the
   * test keeps, is returned.
   */
  private static int tableWithPipe(ThreadGroup p) {
    int[] pipe = Host.pipe2(Host.O_NONBLOCK);
    assertThat(pipe[0]).isNotNegative();
    FdTable fds = new FdTable();
    fds.installAt(new HostFileDescription(pipe[1], "pipe", Host.O_WRONLY), 0, false);
    p.fds = fds;
    return pipe[0];
  }

  /** Whether the pipe's write end is still open somewhere: a read says EAGAIN, not end of file. */
  private boolean writerOpen(int readEnd) {
    long r = Host.read(readEnd, arena.allocate(1), 1);
    assertThat(r).as("nothing was written").isNotPositive();
    return r < 0;
  }

  @Test
  void theEndComesWhenEveryTaskHasEndedAndLeavesTheTablesToTheTearDown() throws Exception {
    kernel(false);
    ThreadGroup p = process(100, 3);
    assertThat(kernel.end.live()).isEqualTo(3);
    kernel.killAll();
    assertThat(p.exiting()).as("killed").isTrue();
    assertThat(kernel.end.ending()).isTrue();
    for (Task t : p.threads) {
      loopEnds(t);
      // No per-thread bookkeeping once ending: the task stays in the tables.
      assertThat(kernel.tasks).containsKey(t.tid);
    }
    assertThat(p.threads).hasSize(3);
    assertThat(kernel.end.quiet()).isDone();
    assertThat(kernel.end.awaitQuiet(Duration.ofMinutes(1))).isTrue();
    kernel.end.tearDown(true);
    assertThat(p.zombie).isTrue();
    assertThat(p.waitStatus).isEqualTo(Signals.SIGKILL);
    assertThat(kernel.processes).isEmpty();
    assertThat(kernel.tasks).isEmpty();
    assertThat(kernel.taskCount()).isZero();
    assertThat(traced.toString(StandardCharsets.UTF_8)).contains("+++ killed by SIGKILL +++");
    // Ready for the next run.
    assertThat(kernel.end.ending()).isFalse();
    assertThat(kernel.end.killed()).isNotDone();
    assertThat(kernel.end.quiet()).isNotDone();
  }

  @Test
  void theEndDoesNotComeWhileATaskStillRuns() throws Exception {
    kernel(false);
    ThreadGroup p = process(100, 2);
    kernel.killAll();
    // What a run waits for before its bounded wait for the tasks: never a task that may not end.
    assertThat(kernel.end.killed()).isDone();
    loopEnds(p.threads.get(0));
    assertThat(kernel.end.quiet()).isNotDone();
    assertThat(kernel.end.live()).isEqualTo(1);
    loopEnds(p.threads.get(1));
    assertThat(kernel.end.quiet()).isDone();
  }

  @Test
  void aKillWithNoTaskLeftEndsAtOnce() throws Exception {
    kernel(false);
    ThreadGroup p = process(100, 1);
    // Discarded unstarted, as a clone the host made no thread for.
    p.threads.get(0).discard();
    kernel.killAll();
    assertThat(kernel.end.quiet()).isDone();
  }

  @Test
  void aProcessAlreadyExitingKeepsItsStatus() {
    kernel(false);
    ThreadGroup p = process(100, 1);
    p.requestExit(3 << 8); // exit_group(3) came first
    kernel.killAll();
    loopEnds(p.threads.get(0));
    kernel.end.tearDown(true);
    assertThat(p.waitStatus).isEqualTo(3 << 8);
    assertThat(traced.toString(StandardCharsets.UTF_8)).contains("+++ exited with 3 +++");
  }

  @Test
  void theTearDownReleasesEachProcessesDescriptors() {
    kernel(false);
    ThreadGroup p = process(100, 1);
    int readEnd = tableWithPipe(p);
    kernel.killAll();
    loopEnds(p.threads.get(0));
    assertThat(writerOpen(readEnd)).as("not released by the task's own exit").isTrue();
    kernel.end.tearDown(true);
    assertThat(writerOpen(readEnd)).as("released by the tear-down").isFalse();
    Host.close(readEnd);
  }

  @Test
  void aTaskThatOutlivesTheWaitForItReleasesItsProcessItself() {
    kernel(false);
    ThreadGroup p = process(100, 1);
    int readEnd = tableWithPipe(p);
    kernel.killAll();
    kernel.end.tearDown(false); // the wait for the task gave up
    assertThat(writerOpen(readEnd)).as("not pulled from under a task that may still use it").isTrue();
    assertThat(kernel.processes).isEmpty();
    loopEnds(p.threads.get(0)); // it ends after all, as an exit of its own
    assertThat(writerOpen(readEnd)).isFalse();
    Host.close(readEnd);
  }

  @Test
  void aKernelWhoseProcessExitsNextLeavesTheReleaseToThatExit() {
    kernel(true);
    ThreadGroup p = process(100, 1);
    int readEnd = tableWithPipe(p);
    kernel.killAll();
    loopEnds(p.threads.get(0));
    kernel.end.tearDown(true);
    assertThat(writerOpen(readEnd)).as("left to the process's exit").isTrue();
    assertThat(p.waitStatus).isEqualTo(Signals.SIGKILL);
    assertThat(traced.toString(StandardCharsets.UTF_8)).contains("+++ killed by SIGKILL +++");
    assertThat(kernel.processes).isEmpty();
    Host.close(readEnd);
    p.fds.release();
  }

  @Test
  void aThreadTheServiceFailsToCopyIsUndoneAndNotWaitedFor() {
    kernel(false);
    ThreadGroup p = process(100, 1);
    Task parent = p.threads.get(0);
    // The parent's vector state was live in a vCPU another thread held (the EBUSY musl turned
    // into pthread_create's EAGAIN, issue 16's 143 threads under --pids=300).
    doThrow(new VmspaceException(Errno.EBUSY, "vmspace_copy_vector_state", null, "live in a running vCPU"))
        .when(vms).copyVectorState(any(), any());
    long thread = TaskClone.CLONE_VM | TaskClone.CLONE_FS | TaskClone.CLONE_FILES | TaskClone.CLONE_SIGHAND
        | TaskClone.CLONE_THREAD;
    assertThatThrownBy(() -> TaskClone.clone(parent, thread, 0, 0, 0, 0)).isInstanceOf(VmspaceException.class);
    assertThat(p.threads).containsExactly(parent);
    assertThat(kernel.tasks).containsOnlyKeys(100);
    assertThat(kernel.end.live()).as("the undone thread is not waited for").isEqualTo(1);
    kernel.killAll();
    loopEnds(parent);
    assertThat(kernel.end.quiet()).isDone();
  }

  /**
   * Starts a thread that parks {@code t} in a blocking wait (as a guest's read of a pipe nobody
   * writes), records what ended the wait in {@code woke}, then ends {@code t}'s loop; returns once
   * it is parked.
   */
  private Thread park(Task t, java.util.concurrent.atomic.AtomicReference<Blocker.Wait> woke)
      throws InterruptedException {
    Thread thread = Thread.ofPlatform().start(() -> {
      t.blocker().open();
      woke.set(t.blocker().await(-1, (short) 0, 0, true));
      loopEnds(t);
    });
    while (!t.blocker().isBlocked() && woke.get() == null) {
      Thread.sleep(1);
    }
    return thread;
  }

  @Test
  void aKillWakesEveryParkedThread() throws Exception {
    kernel(false);
    ThreadGroup p = process(100, 1);
    java.util.concurrent.atomic.AtomicReference<Blocker.Wait> woke = new java.util.concurrent.atomic.AtomicReference<>();
    Thread parked = park(p.threads.get(0), woke);
    kernel.killAll();
    parked.join();
    assertThat(woke.get()).isEqualTo(Blocker.Wait.SIGNAL);
    assertThat(kernel.end.awaitQuiet(Duration.ofMinutes(1))).isTrue();
  }

  @Test
  void aKernelWhoseProcessExitsNextLeavesParkedThreadsToThatExit() throws Exception {
    kernel(true);
    ThreadGroup p = process(100, 2);
    Task waiting = p.threads.get(0);
    java.util.concurrent.atomic.AtomicReference<Blocker.Wait> woke = new java.util.concurrent.atomic.AtomicReference<>();
    Thread parked = park(waiting, woke);
    // The other task neither waits nor has ended: it runs, and the end waits for it.
    assertThat(kernel.end.still()).isFalse();
    kernel.killAll();
    loopEnds(p.threads.get(1));
    assertThat(kernel.end.awaitQuiet(Duration.ofMinutes(1))).isTrue();
    assertThat(waiting.blocker().isBlocked()).as("not woken by the kill").isTrue();
    assertThat(woke.get()).isNull();
    // Woken later (its descriptor became ready, say), it sees its process exiting and ends.
    waiting.blocker().wake(false);
    parked.join();
    assertThat(woke.get()).isEqualTo(Blocker.Wait.SIGNAL);
  }
}
