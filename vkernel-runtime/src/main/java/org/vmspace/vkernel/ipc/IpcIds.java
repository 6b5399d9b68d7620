package org.vmspace.vkernel.ipc;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The ids of one kind of IPC object, as Linux's {@code struct ipc_ids}: an object lives at the
 * lowest free index below the kind's maximum count, and its id is {@code seq * 32768 + index},
 * {@code seq} counting the objects created so far (modulo the largest sequence), so that a
 * stale id of a removed object does not name its successor at the same index. Not thread-safe:
 * used under its registry's lock.
 */
final class IpcIds<T extends IpcObject> {
  /** IPCMNI: the indices an id can hold. */
  static final int IPCMNI = 32768;
  private static final int SEQ_MAX = Integer.MAX_VALUE / IPCMNI;
  static final int IPC_PRIVATE = 0;
  static final int IPC_CREAT = 01000;
  static final int IPC_EXCL = 02000;

  private final int max;
  private final TreeMap<Integer, T> byIndex = new TreeMap<>();
  private final Map<Integer, T> byKey = new HashMap<>();
  private int seq;

  /** @param max the most objects at once (MSGMNI, SEMMNI, SHMMNI) */
  IpcIds(int max) {
    this.max = max;
  }

  /** How an existing object answers a get with other parameters (its size, its count). */
  interface MoreChecks<T> {
    /** @throws SyscallError EINVAL if {@code existing} cannot serve the request */
    void check(T existing);
  }

  /**
   * Linux's ipcget: a new object for IPC_PRIVATE; else the object with {@code key}, made if
   * absent and IPC_CREAT is set. The checks on an existing object come in Linux's order: EEXIST
   * for IPC_CREAT|IPC_EXCL, then {@code more}, then the permissions the flag's mode asks for.
   *
   * @throws SyscallError ENOENT, EEXIST, EINVAL (from {@code more}), EACCES, ENOSPC
   */
  T get(int key, int flags, Cred who, Supplier<T> create, MoreChecks<T> more) {
    if (key != IPC_PRIVATE) {
      T found = byKey.get(key);
      if (found != null) {
        if ((flags & IPC_CREAT) != 0 && (flags & IPC_EXCL) != 0) {
          throw new SyscallError(LinuxErrno.EEXIST);
        }
        more.check(found);
        found.check(who, flags & IpcObject.MODE_BITS);
        return found;
      }
      if ((flags & IPC_CREAT) == 0) {
        throw new SyscallError(LinuxErrno.ENOENT);
      }
    }
    if (byIndex.size() >= max) {
      throw new SyscallError(LinuxErrno.ENOSPC);
    }
    T made = create.get();
    add(made);
    return made;
  }

  private void add(T o) {
    int index = 0;
    for (int used : byIndex.keySet()) {
      if (used != index) {
        break;
      }
      index++;
    }
    o.seq = seq;
    seq = seq == SEQ_MAX ? 0 : seq + 1;
    o.id = o.seq * IPCMNI + index;
    byIndex.put(index, o);
    if (o.key != IPC_PRIVATE) {
      byKey.put(o.key, o);
    }
  }

  /**
   * The object with this id.
   *
   * @throws SyscallError EINVAL if none (a negative id, a free index, a stale sequence)
   */
  T lookup(int id) {
    if (id < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    T o = byIndex.get(id % IPCMNI);
    if (o == null || o.seq != id / IPCMNI) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return o;
  }

  /** The object at an index (for the _STAT commands that take one), or null. */
  T atIndex(int index) {
    return byIndex.get(index);
  }

  /** Removes the object: its id and key no longer find it; marks it removed. */
  void remove(T o) {
    o.removed = true;
    byIndex.remove(o.id % IPCMNI, o);
    if (o.key != IPC_PRIVATE) {
      byKey.remove(o.key, o);
    }
  }

  /**
   * Takes the key from the object (a removed segment still attached keeps its id but not its
   * key, which a new shmget may then use).
   */
  void forgetKey(T o) {
    if (o.key != IPC_PRIVATE) {
      byKey.remove(o.key, o);
      o.key = IPC_PRIVATE;
    }
  }

  /** The highest index in use, or -1 (what IPC_INFO and the _INFO commands return). */
  int highestIndex() {
    return byIndex.isEmpty() ? -1 : byIndex.lastKey();
  }

  int count() {
    return byIndex.size();
  }

  List<T> all() {
    return new ArrayList<>(byIndex.values());
  }
}
