package org.vmspace.kvm.vcpu;

import com.google.common.collect.MapMaker;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentMap;

/**
 * The x87/SSE/AVX state of each guest thread, keyed by the identity of its vext frame (weakly:
 * a dropped frame drops its state). The state lives in a vCPU while that vCPU last ran the
 * thread, and is saved to memory only when the vCPU runs another thread or the thread moves to
 * another vCPU: two ioctls on a switch, none on the common path.
 */
public final class FpuStates {
  /** One guest thread's saved state and where it is live, guarded by its own monitor. */
  static final class State {
    final MemorySegment area = MemorySegment.ofArray(new long[(int) (Vcpu.XSAVE_SIZE / 8)]);
    boolean saved;
    Vcpu liveIn;
  }

  /** How long a state may stay live in a vCPU another thread holds before that is an error. */
  private static final long HANDOVER_NANOS = 2_000_000_000L;

  /**
   * Weak keys compared by identity (a vext frame's equals compares contents). A plain concurrent
   * map of weak references: a bounded cache's bookkeeping showed on every fork.
   */
  private final ConcurrentMap<Object, State> states = new MapMaker().weakKeys().makeMap();
  private final MemorySegment initial;

  /**
   * @param initial the XSAVE image of a freshly reset vCPU: the state a new guest thread starts
   *     with (FCW 0x37f, MXCSR 0x1f80, all registers zero)
   */
  public FpuStates(MemorySegment initial) {
    this.initial = initial;
  }

  /**
   * Makes {@code v} hold the state of the guest thread {@code owner}, saving the thread it held
   * before. {@code v} must be held by the caller.
   *
   * @throws IllegalStateException if the thread's state stays live in a vCPU another thread
   *     holds for 2 seconds (the same vext frame used by two threads at once); shorter, it is
   *     the handover of a vCPU whose new holder is about to save this state, and is waited for
   */
  public void switchTo(Vcpu v, Object owner) {
    if (v.fpuOwner == owner) {
      return;
    }
    if (v.fpuOwner != null) {
      State previous = states.get(v.fpuOwner);
      if (previous != null) {
        synchronized (previous) {
          if (previous.liveIn == v) {
            v.saveFpu(previous.area);
            previous.saved = true;
            previous.liveIn = null;
          }
        }
      }
      v.fpuOwner = null;
    }
    State next = states.computeIfAbsent(owner, k -> new State());
    synchronized (next) {
      whereLive(next, v, elsewhere -> {
        if (elsewhere.fpuOwner == owner) {
          elsewhere.saveFpu(next.area);
          next.saved = true;
          elsewhere.fpuOwner = null;
        }
      });
      v.loadFpu(next.saved ? next.area : initial);
      next.liveIn = v;
    }
    v.fpuOwner = owner;
  }
  /**
   * Gives the guest thread {@code to} a copy of the state of {@code from}, as fork(2) gives the
   * child's thread the parent's registers. {@code from}'s state, if live in an idle vCPU, is
   * saved first and stays live there; {@code to} loses any state it had.
   *
   * @throws IllegalStateException if either state stays live for 2 seconds in a vCPU another
   *     thread holds (a vCPU just taken over by another thread is waited for, as in {@link
   *     #switchTo}: failing at once made a fork or pthread_create fail with EAGAIN)
   */
  public void copy(Object from, Object to) {
    State copy = new State();
    State src = states.get(from);
    if (src != null) {
      synchronized (src) {
        whereLive(src, null, live -> {
          if (live.fpuOwner == from) {
            live.saveFpu(src.area);
            src.saved = true;
          }
        });
        if (src.saved) {
          MemorySegment.copy(src.area, 0, copy.area, 0, src.area.byteSize());
          copy.saved = true;
        }
      }
    }
    State old = states.get(to);
    if (old != null) {
      synchronized (old) {
        whereLive(old, null, live -> {
          if (live.fpuOwner == to) {
            live.fpuOwner = null;
          }
        });
        old.liveIn = null;
      }
    }
    states.put(to, copy);
  }

  /**
   * Runs {@code action} on the vCPU where {@code s} is live (other than {@code except}), held idle
   * for it; nothing if the state is live nowhere. The caller holds {@code s}'s monitor. While
   * another thread holds that vCPU, waits: either that thread is about to run another guest
   * thread there and waits for this monitor to save this state first (a race, over as soon as
   * the monitor is free, which the wait releases; the state is then live nowhere), or it runs
   * this very frame (a caller's error, which persists).
   *
   * @throws IllegalStateException after 2 seconds of that, or if interrupted
   */
  private static void whereLive(State s, Vcpu except, java.util.function.Consumer<Vcpu> action) {
    long deadline = 0;
    Vcpu live;
    while ((live = s.liveIn) != null && live != except) {
      VcpuPool pool = live.pool;
      if (pool != null && pool.tryLockIdle(live)) {
        try {
          action.accept(live);
        } finally {
          pool.release(live);
        }
        return;
      }
      long now = System.nanoTime();
      if (deadline == 0) {
        deadline = now + HANDOVER_NANOS;
      } else if (now - deadline > 0) {
        throw new IllegalStateException("the vext frame's register state is live in a running " + live
            + ": one vext frame may be run by one thread at a time");
      }
      try {
        s.wait(1);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while the vext frame's state was live in " + live, e);
      }
    }
  }

}
