package org.vmspace.vkernel.ipc;

import java.util.function.LongFunction;
import java.util.function.ToLongFunction;
import org.vmspace.api.Backing;
import org.vmspace.api.MemoryObject;

/**
 * One IPC namespace (a kernel's): its message queues, semaphore sets and shared memory
 * segments. Keys and ids are private to it, as in a Linux IPC namespace.
 */
public final class IpcNamespace {
  /** Kernel-internal: fail with EINTR if a handler runs, restart otherwise (Linux's value). */
  public static final int ERESTARTNOHAND = 514;

  private final MsgQueues msg = new MsgQueues();
  private final SemArrays sem = new SemArrays();
  private final ShmSegments shm;

  /** See {@link ShmSegments#ShmSegments} for the two functions. */
  public IpcNamespace(LongFunction<MemoryObject> allocate, ToLongFunction<Backing> attaches) {
    this.shm = new ShmSegments(allocate, attaches);
  }

  public MsgQueues msg() {
    return msg;
  }

  public SemArrays sem() {
    return sem;
  }

  public ShmSegments shm() {
    return shm;
  }

  /**
   * A process has ended (after its address space went): its SEM_UNDO adjustments are applied
   * and the removed segments it was the last to attach are destroyed.
   */
  public void exit(int pid) {
    sem.exit(pid);
    shm.reap();
  }

  /** Seconds since the epoch (the _time fields of the IPC_STAT structures). */
  static long now() {
    return System.currentTimeMillis() / 1000;
  }
}
