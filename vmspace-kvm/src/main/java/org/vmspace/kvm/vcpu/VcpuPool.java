package org.vmspace.kvm.vcpu;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntFunction;

/**
 * The user vCPUs of a context. A thread gets a vCPU on its first run and keeps it while it
 * lives; vCPUs of threads that ended are reused, and when the maximum is reached an idle vCPU
 * of a live thread is taken over (rebound) rather than making the caller wait. A caller waits
 * only while every vCPU is inside a run.
 *
 * <p>Thread-safe.
 */
public final class VcpuPool implements AutoCloseable {
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition released = lock.newCondition();
  private final List<Vcpu> vcpus = new ArrayList<>();
  private final int max;
  private final IntFunction<Vcpu> factory;
  private int nextId;
  private boolean closed;

  /**
   * @param max the most user vCPUs
   * @param firstId the id of the first vCPU to create
   * @param factory creates the vCPU with the given id
   */
  public VcpuPool(int max, int firstId, IntFunction<Vcpu> factory) {
    this.max = max;
    this.nextId = firstId;
    this.factory = factory;
  }

  /**
   * A vCPU for the calling thread, bound to it, exclusively until {@link #release}.
   *
   * @param waitNanos how long to wait when every vCPU is running
   * @return the vCPU, or {@code null} if none became free in time
   * @throws IllegalStateException if the pool is closed
   */
  public Vcpu acquire(RunnerState runner, long waitNanos) throws InterruptedException {
    Vcpu v;
    lock.lock();
    try {
      checkOpen();
      v = runner.lastVcpu(this);
      if (v == null || v.owner != runner || v.busy || v.dead) {
        long remaining = waitNanos;
        while ((v = pick(runner, vcpus.size() >= max)) == null) {
          if (vcpus.size() < max) {
            v = factory.apply(nextId++);
            v.pool = this;
            vcpus.add(v);
            break;
          }
          if (remaining <= 0) {
            return null;
          }
          remaining = released.awaitNanos(remaining);
          checkOpen();
        }
      }
      v.busy = true;
    } finally {
      lock.unlock();
    }
    if (v.owner != runner) {
      try {
        v.bind(runner);
      } catch (RuntimeException e) {
        release(v);
        throw e;
      }
    }
    runner.lastVcpu(this, v);
    return v;
  }

  /**
   * Chooses an idle vCPU: an unbound one or one of a dead thread; when no new vCPU may be
   * created, also an idle one of a live thread (which is rebound).
   */
  private Vcpu pick(RunnerState runner, boolean mayTakeOver) {
    Vcpu idleOfLiveThread = null;
    for (Vcpu v : vcpus) {
      if (v.busy || v.dead) {
        continue;
      }
      if (v.owner == null || !v.owner.thread.isAlive() || v.owner == runner) {
        return v;
      }
      if (idleOfLiveThread == null) {
        idleOfLiveThread = v;
      }
    }
    return mayTakeOver ? idleOfLiveThread : null;
  }

  /**
   * Gives a vCPU back; a dead one is closed and replaced on demand, and after {@link #close} (which
   * left it open because it was still running) it is closed now.
   */
  public void release(Vcpu v) {
    lock.lock();
    try {
      v.busy = false;
      if (v.dead || closed) {
        vcpus.remove(v);
        v.close();
      }
      released.signal();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Takes an idle vCPU out of use for a moment, e.g. to read its floating-point state.
   *
   * @return false if it is in use
   */
  public boolean tryLockIdle(Vcpu v) {
    lock.lock();
    try {
      if (v.busy || v.dead) {
        return false;
      }
      v.busy = true;
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** The number of vCPUs created and alive. */
  public int size() {
    lock.lock();
    try {
      return vcpus.size();
    } finally {
      lock.unlock();
    }
  }

  /** A snapshot of the vCPUs. */
  public List<Vcpu> snapshot() {
    lock.lock();
    try {
      return List.copyOf(vcpus);
    } finally {
      lock.unlock();
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("vCPU pool is closed");
    }
  }

  /**
   * Closes every vCPU, waiting up to {@code timeout} for runs in progress (the caller has
   * interrupted them).
   */
  public void close(long timeout, TimeUnit unit) throws InterruptedException {
    lock.lock();
    try {
      closed = true;
      long remaining = unit.toNanos(timeout);
      while (vcpus.stream().anyMatch(v -> v.busy) && remaining > 0) {
        remaining = released.awaitNanos(remaining);
      }
      for (Vcpu v : vcpus) {
        if (!v.busy) {
          v.close();
        }
      }
      vcpus.clear();
      released.signalAll();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void close() {
    try {
      close(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
