package org.vmspace.registry;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.vmspace.rbtree.RbNode;

/**
 * One vmspace in an {@link IdRegistry}: its id, its value and its references.
 *
 * <p>All reference state lives in one 64-bit word changed only by compare-and-set: the active
 * count in the low 32 bits, the passive (hold) count in bits 32..61, and the DELETED flag in bit
 * 62. Zero, the field's default, means live with no references, so a reader that finds a freshly
 * linked entry without synchronisation can never see a state the entry was not in. The value is
 * released by whichever compare-and-set leaves the word at exactly DELETED, which happens once:
 * afterwards no reference can be taken or dropped.
 *
 * @param <T> the value type
 */
public final class Entry<T> extends RbNode<Entry<T>> {
  private static final long ACTIVE_ONE = 1L;
  private static final long ACTIVE_MASK = 0xFFFF_FFFFL;
  private static final long HOLD_ONE = 1L << 32;
  private static final long HOLD_MASK = 0x3FFF_FFFFL << 32;
  private static final long DELETED = 1L << 62;

  private static final VarHandle STATE;

  static {
    try {
      STATE = MethodHandles.lookup().findVarHandle(Entry.class, "state", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  final long id;
  private final T value;
  private final IdRegistry<T> registry;
  /** 0 = live with no references: the default value is a valid initial state for racy readers. */
  @SuppressWarnings("unused")
  private volatile long state;

  Entry(IdRegistry<T> registry, long id, T value) {
    this.registry = registry;
    this.id = id;
    this.value = value;
  }

  /** The id, an unsigned 64-bit value. */
  public long id() {
    return id;
  }

  /** The value. */
  public T value() {
    return value;
  }

  /** Whether the entry has been deleted (it may still be referenced). */
  public boolean isDeleted() {
    return (state & DELETED) != 0;
  }

  /** The number of active references now (for tests and diagnostics). */
  public int activeRefs() {
    return (int) (state & ACTIVE_MASK);
  }

  /** The number of holds now (for tests and diagnostics). */
  public int holds() {
    return (int) ((state & HOLD_MASK) >>> 32);
  }

  boolean tryAcquire() {
    long s;
    do {
      s = state;
      if ((s & DELETED) != 0) {
        return false;
      }
      if ((s & ACTIVE_MASK) == ACTIVE_MASK) {
        throw new IllegalStateException("active reference count overflow on id " + id);
      }
    } while (!STATE.compareAndSet(this, s, s + ACTIVE_ONE));
    return true;
  }

  /**
   * Takes another active reference on an entry the caller already holds one on, e.g. for a
   * second call nested in the first.
   *
   * @throws IllegalStateException if the caller held no reference
   */
  public Entry<T> acquireAgain() {
    long s;
    do {
      s = state;
      if ((s & ACTIVE_MASK) == 0) {
        throw new IllegalStateException("acquireAgain without an active reference on id " + id);
      }
    } while (!STATE.compareAndSet(this, s, s + ACTIVE_ONE));
    return this;
  }

  /**
   * Gives back one active reference. If the entry was deleted and this was its last reference
   * of any kind, the value is released on this thread.
   *
   * @throws IllegalStateException if no active reference is held
   */
  public void release() {
    long s;
    do {
      s = state;
      if ((s & ACTIVE_MASK) == 0) {
        throw new IllegalStateException("release without an active reference on id " + id);
      }
    } while (!STATE.compareAndSet(this, s, s - ACTIVE_ONE));
    if (s - ACTIVE_ONE == DELETED) {
      registry.release(value);
    }
  }

  /**
   * Takes a passive reference: it keeps the value from being released but does not prevent
   * removal. The caller must hold an active reference or another hold.
   *
   * @throws IllegalStateException if the caller holds no reference
   */
  public Entry<T> hold() {
    long s;
    do {
      s = state;
      if ((s & (ACTIVE_MASK | HOLD_MASK)) == 0) {
        throw new IllegalStateException("hold without a reference on id " + id);
      }
      if ((s & HOLD_MASK) == HOLD_MASK) {
        throw new IllegalStateException("hold count overflow on id " + id);
      }
    } while (!STATE.compareAndSet(this, s, s + HOLD_ONE));
    return this;
  }

  /**
   * Gives back a passive reference; may release the value as {@link #release()} does.
   *
   * @throws IllegalStateException if no hold is held
   */
  public void unhold() {
    long s;
    do {
      s = state;
      if ((s & HOLD_MASK) == 0) {
        throw new IllegalStateException("unhold without a hold on id " + id);
      }
    } while (!STATE.compareAndSet(this, s, s - HOLD_ONE));
    if (s - HOLD_ONE == DELETED) {
      registry.release(value);
    }
  }

  /** {@link #tryMarkDeleted()}: another active reference exists, nothing changed. */
  static final int BUSY = -1;
  /** {@link #tryMarkDeleted()}: marked; a remaining reference will release the value. */
  static final int MARKED = 0;
  /** {@link #tryMarkDeleted()}: marked and unreferenced; the caller must release the value. */
  static final int MARKED_RELEASE = 1;

  /**
   * Marks DELETED if there is no active reference; called under the registry's write lock.
   *
   * @return {@link #BUSY}, {@link #MARKED} or {@link #MARKED_RELEASE}
   */
  int tryMarkDeleted() {
    long s;
    do {
      s = state;
      if ((s & ACTIVE_MASK) != 0 || (s & DELETED) != 0) {
        return BUSY;
      }
    } while (!STATE.compareAndSet(this, s, s | DELETED));
    // A CAS that leaves the word at exactly DELETED is the only one: the value is ours to free.
    return (s | DELETED) == DELETED ? MARKED_RELEASE : MARKED;
  }

  /**
   * Marks DELETED whatever the references (the context's last close).
   *
   * @return whether the caller must release the value
   */
  boolean forceDeleted() {
    long s;
    do {
      s = state;
      if ((s & DELETED) != 0) {
        return false;
      }
    } while (!STATE.compareAndSet(this, s, s | DELETED));
    return (s | DELETED) == DELETED;
  }

  /** Hands the value to the registry's releaser; called once, by the owner of the transition. */
  void releaseValue() {
    registry.release(value);
  }

  @Override
  public String toString() {
    long s = state;
    return "Entry[id=0x" + Long.toHexString(id) + " active=" + (s & ACTIVE_MASK)
        + " holds=" + ((s & HOLD_MASK) >>> 32) + ((s & DELETED) != 0 ? " DELETED" : "") + "]";
  }
}
