package org.vmspace.registry;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.StampedLock;
import java.util.function.Consumer;
import org.vmspace.rbtree.RbTree;

/**
 * The vmspace registry of one vkernel context: values keyed by an unsigned 64-bit id in a
 * red-black tree, each with the reference discipline of the contract (DragonFly's {@code
 * vmspace_entry} after its double-free fixes).
 *
 * <ul>
 *   <li>{@link #acquire} takes an <em>active reference</em> for the duration of a call; {@link
 *       Entry#release()} gives it back.
 *   <li>{@link #remove} succeeds only when no active reference exists; it atomically marks the
 *       entry DELETED, which every later lookup treats as absent, and takes it out of the tree.
 *       When it fails with {@link Removal#BUSY} it leaves no reference behind.
 *   <li>{@link Entry#hold()} takes a passive reference (a cache's) that does not block removal.
 *   <li>The value is handed to the releaser exactly once, after the entry is DELETED and the last
 *       reference of any kind is gone.
 *   <li>The context itself is reference-counted: {@link #retainContext()} for an inherited
 *       context, {@link #releaseContext()} for each close; the last close deletes every entry.
 * </ul>
 *
 * <p>Thread-safe. Lookups are lock-free in the common case (an optimistic read of the tree and a
 * compare-and-set on the entry); creation and removal serialise on a lock.
 *
 * @param <T> the value type
 */
public final class IdRegistry<T> {

  /** The outcome of {@link #remove}. */
  public enum Removal {
    /** The entry was marked DELETED and taken out of the registry. */
    REMOVED,
    /** No entry with that id (or it is already deleted). */
    NOT_FOUND,
    /** Another active reference exists; nothing changed. */
    BUSY
  }

  private final RbTree<Entry<T>> tree =
      new RbTree<>((a, b) -> Long.compareUnsigned(a.id, b.id));
  private static final RbTree.KeyProbe<Entry<?>> BY_ID = (id, n) -> Long.compareUnsigned(id, n.id);
  private final StampedLock lock = new StampedLock();
  private final Consumer<? super T> releaser;
  private final AtomicInteger contextRefs = new AtomicInteger(1);

  /**
   * An empty registry whose context has one reference.
   *
   * @param releaser receives each value exactly once, after its entry is deleted and
   *     unreferenced; it runs on the thread that dropped the last reference
   */
  public IdRegistry(Consumer<? super T> releaser) {
    this.releaser = Objects.requireNonNull(releaser, "releaser");
  }

  /**
   * Adds an entry for {@code id}.
   *
   * @return {@code false} if an entry with that id exists (the value is not stored)
   * @throws IllegalArgumentException if id is 0
   * @throws IllegalStateException if the context is closed
   */
  public boolean register(long id, T value) {
    if (id == 0) {
      throw new IllegalArgumentException("id 0 is invalid");
    }
    Entry<T> entry = new Entry<>(this, id, Objects.requireNonNull(value, "value"));
    long stamp = lock.writeLock();
    try {
      checkOpen();
      return tree.insert(entry) == null;
    } finally {
      lock.unlockWrite(stamp);
    }
  }

  /**
   * Looks {@code id} up and takes an active reference on it.
   *
   * @return the entry, to be {@linkplain Entry#release() released} exactly once, or {@code null}
   *     if there is no live entry with that id
   */
  public Entry<T> acquire(long id) {
    long stamp = lock.tryOptimisticRead();
    // Every guest system call looks its vmspace up here: the probe captures nothing, so the
    // common case allocates nothing (issue 17).
    Entry<T> e = tree.findRacy(id, BY_ID);
    // A node found by a racy read always has the id sought; if it is not DELETED at the CAS, it
    // was live then, so the reference is good without validating the stamp.
    if (e != null && e.tryAcquire()) {
      return e;
    }
    if (stamp != 0 && lock.validate(stamp)) {
      return null;
    }
    stamp = lock.readLock();
    try {
      e = tree.find(n -> Long.compareUnsigned(id, n.id));
      return e != null && e.tryAcquire() ? e : null;
    } finally {
      lock.unlockRead(stamp);
    }
  }

  /**
   * Deletes the entry for {@code id} if nothing else uses it. The caller must not hold an active
   * reference on it.
   */
  public Removal remove(long id) {
    Entry<T> e;
    int marked;
    long stamp = lock.writeLock();
    try {
      e = tree.find(n -> Long.compareUnsigned(id, n.id));
      if (e == null) {
        return Removal.NOT_FOUND;
      }
      marked = e.tryMarkDeleted();
      if (marked == Entry.BUSY) {
        return Removal.BUSY;
      }
      tree.remove(e);
    } finally {
      lock.unlockWrite(stamp);
    }
    // Outside the lock: releasing may tear down a whole address space.
    if (marked == Entry.MARKED_RELEASE) {
      e.releaseValue();
    }
    return Removal.REMOVED;
  }

  /** Whether a live entry has this id (a snapshot: it may change at once). */
  public boolean contains(long id) {
    Entry<T> e = acquire(id);
    if (e == null) {
      return false;
    }
    e.release();
    return true;
  }

  /** The number of live entries. */
  public int size() {
    long stamp = lock.readLock();
    try {
      return tree.size();
    } finally {
      lock.unlockRead(stamp);
    }
  }

  /** The ids of the live entries, in unsigned order. */
  public List<Long> ids() {
    long stamp = lock.readLock();
    try {
      List<Long> ids = new ArrayList<>(tree.size());
      for (Entry<T> e : tree) {
        ids.add(e.id);
      }
      return ids;
    } finally {
      lock.unlockRead(stamp);
    }
  }

  /**
   * Adds a reference to the context (an inherited vkernel context).
   *
   * @throws IllegalStateException if the context is already closed
   */
  public void retainContext() {
    int refs;
    do {
      refs = contextRefs.get();
      if (refs <= 0) {
        throw new IllegalStateException("context is closed");
      }
    } while (!contextRefs.compareAndSet(refs, refs + 1));
  }

  /**
   * Drops a reference to the context. The last one deletes every entry, whatever its active
   * references (DragonFly's {@code RB_SCAN} in {@code vkernel_exit}); the values are released as
   * their references drain.
   *
   * @return whether this was the last reference
   * @throws IllegalStateException if the context is already closed
   */
  public boolean releaseContext() {
    List<Entry<T>> toRelease = new ArrayList<>();
    // The count drops under the write lock, in the same critical section as the deletions: a
    // close that finds the context closed, or a register refused because it is, can then never
    // be followed by a lookup that still finds an entry of the context (found by
    // IdRegistryLincheckTest: the count used to drop before the lock was taken).
    long stamp = lock.writeLock();
    try {
      int refs = contextRefs.getAndUpdate(r -> r > 0 ? r - 1 : r);
      if (refs <= 0) {
        throw new IllegalStateException("context is already closed");
      }
      if (refs > 1) {
        return false;
      }
      tree.scan(
          n -> 0,
          e -> {
            tree.remove(e);
            if (e.forceDeleted()) {
              toRelease.add(e);
            }
            return 1;
          });
    } finally {
      lock.unlockWrite(stamp);
    }
    for (Entry<T> e : toRelease) {
      e.releaseValue();
    }
    return true;
  }

  /** Whether the context has no references left. */
  public boolean isClosed() {
    return contextRefs.get() <= 0;
  }

  private void checkOpen() {
    if (contextRefs.get() <= 0) {
      throw new IllegalStateException("context is closed");
    }
  }

  /** Checks the tree's invariants (for tests). */
  public void verify() {
    long stamp = lock.readLock();
    try {
      tree.verify();
    } finally {
      lock.unlockRead(stamp);
    }
  }

  void release(T value) {
    releaser.accept(value);
  }
}
