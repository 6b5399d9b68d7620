package org.vmspace.vkernel.proc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.VmspaceService;
import org.vmspace.vkernel.elf.Vdso;
import org.vmspace.vkernel.signal.SigAction;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The kernel's task count for --pids and RLIMIT_NPROC ({@link Kernel#taskCount}), kept as a
 * counter instead of a scan of the process table: after every exit, reap and auto-reap it equals
 * what the scan counted (every live task, and one for each process whose threads have all left
 * and which is not reaped yet), and the limit refuses the task past --pids. Tasks exit through
 * {@link TaskExit#threadExited} and are reaped through {@link TaskExit#wait}, the production
 * paths; the processes are entered in the tables as fork enters them. The service is mocked only
 * so that a kernel can exist without KVM; no guest runs.
 */
class TaskCountTest {
  private final Arena arena = Arena.ofAuto();
  private Kernel kernel;
  private ThreadGroup init;
  private Task initTask;

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
    kernel = new Kernel(vms, KernelConfig.builder().root(Path.of("/"), false).pids(4).build(), k -> null);
    init = process(100, null);
    initTask = init.threads.get(0);
  }

  /** A process with one thread, the child of {@code parent}, entered in the tables as fork does. */
  private ThreadGroup process(int pid, ThreadGroup parent) {
    kernel.lock.lock();
    try {
      ThreadGroup p = new ThreadGroup(kernel, pid, 1000, 1000);
      p.exitSignal = Signals.SIGCHLD;
      Task t = new Task(kernel, p, pid);
      p.threads.add(t);
      kernel.tasks.put(pid, t);
      p.parent = parent;
      if (parent != null) {
        parent.children.add(p);
      }
      kernel.processes.put(pid, p);
      return p;
    } finally {
      kernel.lock.unlock();
    }
  }

  /** One more thread of {@code p}, as clone(CLONE_THREAD) enters it. */
  private Task thread(ThreadGroup p, int tid) {
    kernel.lock.lock();
    try {
      Task t = new Task(kernel, p, tid);
      p.threads.add(t);
      kernel.tasks.put(tid, t);
      return t;
    } finally {
      kernel.lock.unlock();
    }
  }

  /** The counter, checked against the scan it replaced. */
  private int count() {
    kernel.lock.lock();
    try {
      int exited = 0;
      for (ThreadGroup p : kernel.processes.values()) {
        if (p.threads.isEmpty()) {
          exited++;
        }
      }
      assertThat(kernel.taskCount()).as("the counter against a scan").isEqualTo(kernel.tasks.size() + exited);
      return kernel.taskCount();
    } finally {
      kernel.lock.unlock();
    }
  }

  private int limitErrno() {
    kernel.lock.lock();
    try {
      kernel.checkTaskLimits(init);
      return 0;
    } catch (SyscallError e) {
      return e.errno();
    } finally {
      kernel.lock.unlock();
    }
  }

  private static void exit(Task t) {
    t.process.requestExit(0);
    TaskExit.threadExited(t);
  }

  /**
   * A child that exits on one host thread while its parent polls wait on another: whenever the
   * wait sees the zombie, the parent's SIGCHLD is pending already (fd_passing's signalfd check
   * in CProgramsTest once found it missing: the zombie was visible before its signal was sent).
   */
  @Test
  void aWaitThatSeesTheZombieFindsItsExitSignalPending() throws Exception {
    initTask.signals().mask(Signals.bit(Signals.SIGCHLD)); // blocked, so it stays pending
    SigInfo[] info = new SigInfo[1];
    for (int i = 0; i < 300; i++) {
      ThreadGroup child = process(1000 + i, init);
      Thread exiter = new Thread(() -> exit(child.threads.get(0)));
      exiter.start();
      TaskExit.Reaped r;
      do {
        r = TaskExit.wait(initTask, child.pid, TaskExit.WNOHANG);
      } while (r == null);
      assertThat(init.pending() & Signals.bit(Signals.SIGCHLD)).as("round %d", i).isNotZero();
      exiter.join();
      assertThat(init.takePending(Signals.bit(Signals.SIGCHLD), info)).isEqualTo(Signals.SIGCHLD);
    }
  }

  @Test
  void aZombieCountsUntilItIsReaped() {
    assertThat(count()).isEqualTo(1);
    ThreadGroup child = process(101, init);
    Task second = thread(child, 102);
    assertThat(count()).isEqualTo(3);
    exit(second);
    assertThat(count()).as("a thread that left while its process lives").isEqualTo(2);
    exit(child.threads.get(0));
    assertThat(child.zombie).isTrue();
    assertThat(count()).as("the zombie").isEqualTo(2);
    TaskExit.Reaped r = TaskExit.wait(initTask, -1, TaskExit.WNOHANG);
    assertThat(r.pid()).isEqualTo(101);
    assertThat(count()).isEqualTo(1);
    assertThatThrownBy(() -> TaskExit.wait(initTask, -1, TaskExit.WNOHANG)).isInstanceOfSatisfying(SyscallError.class,
        e -> assertThat(e.errno()).isEqualTo(LinuxErrno.ECHILD));
    assertThat(count()).isEqualTo(1);
  }

  @Test
  void waitWithWnowaitLeavesTheZombieCounted() {
    ThreadGroup child = process(101, init);
    exit(child.threads.get(0));
    assertThat(TaskExit.wait(initTask, 101, TaskExit.WNOHANG | TaskExit.WNOWAIT).pid()).isEqualTo(101);
    assertThat(count()).isEqualTo(2);
    TaskExit.wait(initTask, 101, TaskExit.WNOHANG);
    assertThat(count()).isEqualTo(1);
  }

  @Test
  void anIgnoredSigchldReapsAtOnceAndSoDoesAnOrphansExit() {
    init.action(Signals.SIGCHLD, new SigAction(SigAction.SIG_IGN, 0, 0, 0));
    ThreadGroup child = process(101, init);
    exit(child.threads.get(0));
    assertThat(count()).as("auto-reaped").isEqualTo(1);
    // A zombie grandchild whose parent exits: adopted by init, which reaps it at once too.
    init.action(Signals.SIGCHLD, SigAction.DEFAULT);
    ThreadGroup middle = process(102, init);
    ThreadGroup grandchild = process(103, middle);
    exit(grandchild.threads.get(0));
    assertThat(count()).isEqualTo(3);
    init.action(Signals.SIGCHLD, new SigAction(SigAction.SIG_IGN, 0, 0, 0));
    exit(middle.threads.get(0));
    assertThat(count()).as("both reaped as they reach init").isEqualTo(1);
  }

  @Test
  void theLimitCountsZombiesAndFreesTheirSlotWhenReaped() {
    ThreadGroup a = process(101, init);
    ThreadGroup b = process(102, init);
    assertThat(limitErrno()).isZero();
    process(103, init);
    assertThat(count()).isEqualTo(4);
    assertThat(limitErrno()).as("--pids=4 reached").isEqualTo(LinuxErrno.EAGAIN);
    exit(a.threads.get(0));
    exit(b.threads.get(0));
    assertThat(limitErrno()).as("zombies still count").isEqualTo(LinuxErrno.EAGAIN);
    TaskExit.wait(initTask, 101, TaskExit.WNOHANG);
    assertThat(count()).isEqualTo(3);
    assertThat(limitErrno()).isZero();
  }
}
