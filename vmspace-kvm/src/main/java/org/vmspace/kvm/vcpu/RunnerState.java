package org.vmspace.kvm.vcpu;

/**
 * What the backend knows about one thread that runs guests: its kernel thread id, whether it
 * is inside a run now, a pending interrupt, and the vCPU it last used.
 *
 * <p>{@link #inRun} and {@link #interruptRequested} form a Dekker pair: the runner sets {@code
 * inRun} and then reads the request; the interrupter sets the request and then reads {@code
 * inRun}. With volatile accesses at least one sees the other, so an interrupt is never lost
 * between the runner's check and its entry into the guest.
 */
public final class RunnerState {
  final Thread thread;
  volatile int tid;
  volatile boolean inRun;
  volatile boolean interruptRequested;
  /** Whether the kick signal is blocked in this thread (set once, by the thread itself). */
  boolean signalBlocked;
  long kvmSignalMask;
  /** The vCPU this thread last used per pool; valid only while still bound to it. */
  private final java.util.Map<VcpuPool, Vcpu> lastVcpus = new java.util.IdentityHashMap<>(2);

  RunnerState(Thread thread) {
    this.thread = thread;
  }

  Vcpu lastVcpu(VcpuPool pool) {
    return lastVcpus.get(pool);
  }

  void lastVcpu(VcpuPool pool, Vcpu v) {
    lastVcpus.put(pool, v);
  }

  public Thread thread() {
    return thread;
  }

  /** Whether an interrupt is pending for this thread's next (or current) run. */
  public boolean interruptRequested() {
    return interruptRequested;
  }

  /** Consumes a pending interrupt. */
  public boolean takeInterrupt() {
    if (interruptRequested) {
      interruptRequested = false;
      return true;
    }
    return false;
  }

  /** Leaves an interrupt pending for the thread's next run (called by the thread itself). */
  public void requestInterrupt() {
    interruptRequested = true;
  }

  /** Marks the thread as inside (or outside) a run; see the class comment for the ordering. */
  public void inRun(boolean value) {
    inRun = value;
  }

  /** Whether the thread is inside a run. */
  public boolean isInRun() {
    return inRun;
  }

  /** The kernel thread id, 0 until the thread first runs. */
  public int tid() {
    return tid;
  }
}
