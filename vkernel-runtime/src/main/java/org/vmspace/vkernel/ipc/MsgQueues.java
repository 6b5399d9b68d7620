package org.vmspace.vkernel.ipc;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedList;
import java.util.List;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * System V message queues (msgget, msgsnd, msgrcv, msgctl) with Linux's default limits, checks
 * and errnos. A blocked sender or receiver sleeps through its {@link Sleeper}; every change of a
 * queue (a message in or out, a new size, the removal) wakes all its sleepers, which recheck.
 * Thread-safe (one lock for all queues; sleeping happens outside it).
 */
public final class MsgQueues {
  /** The largest message (MSGMAX). */
  public static final int MSGMAX = 8192;
  /** The default bytes a queue holds (MSGMNB); only a privileged IPC_SET raises it. */
  public static final int MSGMNB = 16384;
  /** The most queues (MSGMNI). */
  public static final int MSGMNI = 32000;
  public static final int IPC_NOWAIT = 04000;
  public static final int MSG_NOERROR = 010000;
  public static final int MSG_EXCEPT = 020000;
  public static final int MSG_COPY = 040000;

  /** A message: its type and text. */
  public record Message(long type, byte[] text) {}

  /** msqid64_ds's fields, as IPC_STAT reports them. */
  public record Stat(IpcObject.Perm perm, long stime, long rtime, long ctime, long cbytes, long qnum, long qbytes,
      int lspid, int lrpid) {}

  /** struct msginfo: the limits (IPC_INFO) or the usage (MSG_INFO), and the highest index used. */
  public record Info(int msgpool, int msgmap, int msgmax, int msgmnb, int msgmni, int msgssz, int msgtql, int msgseg,
      int highestIndex) {}

  private static final class Queue extends IpcObject {
    final LinkedList<Message> messages = new LinkedList<>();
    final List<Sleeper> sleepers = new ArrayList<>();
    long cbytes;
    long qbytes = MSGMNB;
    long stime;
    long rtime;
    int lspid;
    int lrpid;

    Queue(int key, Cred creator, int mode) {
      super(key, creator, mode);
    }

    void wakeAll() {
      sleepers.forEach(Sleeper::wake);
    }
  }

  private final IpcIds<Queue> ids = new IpcIds<>(MSGMNI);

  /**
   * msgget.
   *
   * @throws SyscallError ENOENT, EEXIST, EACCES, ENOSPC
   */
  public synchronized int get(int key, int flags, Cred who) {
    return ids.get(key, flags, who, () -> new Queue(key, who, flags), q -> {}).id;
  }

  /**
   * msgsnd: appends the message, first sleeping while the queue is full (its bytes would pass
   * its size, or its count would) unless IPC_NOWAIT.
   *
   * @throws SyscallError EINVAL (a bad id, a type below 1, a text over MSGMAX), EACCES, EIDRM
   *     (removed, also while waiting), EAGAIN (full and IPC_NOWAIT), ERESTARTNOHAND (a signal:
   *     the dispatcher's EINTR, never restarted after a handler)
   */
  public void send(int id, long type, byte[] text, int flags, Cred who, Sleeper sleeper) {
    if (text.length > MSGMAX || type < 1) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    Queue q;
    synchronized (this) {
      q = ids.lookup(id);
    }
    await(q, who, 0222, sleeper, flags, LinuxErrno.EAGAIN, () -> {
      if (text.length + q.cbytes > q.qbytes || 1 + q.messages.size() > q.qbytes) {
        return null;
      }
      q.messages.addLast(new Message(type, text.clone()));
      q.cbytes += text.length;
      q.lspid = who.pid();
      q.stime = IpcNamespace.now();
      q.wakeAll();
      return Boolean.TRUE;
    });
  }

  /**
   * msgrcv: takes the first message {@code type} selects (0 any, above 0 that type or with
   * MSG_EXCEPT any other, below 0 the lowest type up to its absolute value), sleeping while
   * there is none unless IPC_NOWAIT. A message longer than {@code maxSize} stays queued (E2BIG)
   * unless MSG_NOERROR, which truncates it. With MSG_COPY (and IPC_NOWAIT) it copies the
   * message at index {@code type} and leaves it queued.
   *
   * @return the message, its text at most {@code maxSize} bytes
   * @throws SyscallError EINVAL, EACCES, EIDRM, E2BIG, ENOMSG (none and IPC_NOWAIT),
   *     ERESTARTNOHAND (a signal)
   */
  public Message receive(int id, long maxSize, long type, int flags, Cred who, Sleeper sleeper) {
    if (maxSize < 0) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    boolean copy = (flags & MSG_COPY) != 0;
    if (copy && ((flags & MSG_EXCEPT) != 0 || (flags & IPC_NOWAIT) == 0)) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    Queue q;
    synchronized (this) {
      q = ids.lookup(id);
    }
    return await(q, who, 0444, sleeper, flags, LinuxErrno.ENOMSG, () -> {
      Message m = copy ? (type >= 0 && type < q.messages.size() ? q.messages.get((int) type) : null)
          : find(q, type, flags);
      if (m == null) {
        return null;
      }
      if (m.text().length > maxSize && (flags & MSG_NOERROR) == 0) {
        throw new SyscallError(LinuxErrno.E2BIG);
      }
      if (!copy) {
        q.messages.remove(m);
        q.cbytes -= m.text().length;
        q.lrpid = who.pid();
        q.rtime = IpcNamespace.now();
        q.wakeAll();
      }
      byte[] text = m.text();
      return new Message(m.type(), text.length > maxSize ? java.util.Arrays.copyOf(text, (int) maxSize) : text);
    });
  }

  /**
   * The wait both msgsnd and msgrcv make: {@code attempt} runs under the namespace's lock
   * after the caller's permission ({@code mode}: EACCES) and then the queue's removal are
   * checked, in Linux's order, and returns its result or null to wait. A queue
   * removed meanwhile is EIDRM (also when the wait ends with a signal, as Linux reports it);
   * with IPC_NOWAIT the wait is {@code nowaitErrno}; a signal is ERESTARTNOHAND.
   */
  private <T> T await(Queue q, Cred who, int mode, Sleeper sleeper, int flags, int nowaitErrno,
      java.util.function.Supplier<T> attempt) {
    boolean queued = false;
    try {
      while (true) {
        synchronized (this) {
          q.check(who, mode);
          if (q.removed) {
            throw new SyscallError(LinuxErrno.EIDRM);
          }
          T done = attempt.get();
          if (done != null) {
            return done;
          }
          if ((flags & IPC_NOWAIT) != 0) {
            throw new SyscallError(nowaitErrno);
          }
          if (!queued) {
            q.sleepers.add(sleeper);
            queued = true;
          }
        }
        if (sleeper.sleep(0) == Sleeper.Result.SIGNAL) {
          synchronized (this) {
            if (q.removed) {
              throw new SyscallError(LinuxErrno.EIDRM);
            }
          }
          throw new SyscallError(IpcNamespace.ERESTARTNOHAND);
        }
      }
    } finally {
      if (queued) {
        synchronized (this) {
          q.sleepers.remove(sleeper);
        }
      }
    }
  }

  private static Message find(Queue q, long type, int flags) {
    if (type == 0) {
      return q.messages.peekFirst();
    }
    if (type < 0) {
      long limit = type == Long.MIN_VALUE ? Long.MAX_VALUE : -type;
      Message best = null;
      for (Message m : q.messages) {
        if (m.type() <= limit && (best == null || m.type() < best.type())) {
          best = m;
        }
      }
      return best;
    }
    boolean except = (flags & MSG_EXCEPT) != 0;
    for (Iterator<Message> it = q.messages.iterator(); it.hasNext(); ) {
      Message m = it.next();
      if ((m.type() == type) != except) {
        return m;
      }
    }
    return null;
  }

  /**
   * IPC_STAT (by id) or, with {@code index} true, MSG_STAT / MSG_STAT_ANY (by index; {@code
   * any} skips the read permission).
   *
   * @throws SyscallError EINVAL, EACCES
   */
  public synchronized Stat stat(int idOrIndex, boolean index, boolean any, Cred who) {
    Queue q = index ? ids.atIndex(idOrIndex) : ids.lookup(idOrIndex);
    if (q == null) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    if (!any) {
      q.check(who, 0444);
    }
    return new Stat(q.perm(), q.stime, q.rtime, q.ctime, q.cbytes, q.messages.size(), q.qbytes, q.lspid, q.lrpid);
  }

  /** The id of the queue at an index (MSG_STAT's result). */
  public synchronized int idAt(int index) {
    Queue q = ids.atIndex(index);
    if (q == null) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    return q.id;
  }

  /**
   * IPC_SET: owner, group, mode bits and the queue's size; raising the size past MSGMNB needs
   * privilege. Senders waiting for room are woken.
   *
   * @throws SyscallError EINVAL, EPERM
   */
  public synchronized void set(int id, Cred who, int uid, int gid, int mode, long qbytes) {
    Queue q = ids.lookup(id);
    q.checkOwner(who);
    if (qbytes > MSGMNB && !who.privileged()) {
      throw new SyscallError(LinuxErrno.EPERM);
    }
    q.set(new IpcObject.Perm(q.key, uid, gid, q.cuid, q.cgid, mode, q.seq));
    q.qbytes = qbytes;
    q.wakeAll();
  }

  /**
   * IPC_RMID: the queue and its messages go at once; its sleepers fail with EIDRM.
   *
   * @throws SyscallError EINVAL, EPERM
   */
  public synchronized void remove(int id, Cred who) {
    Queue q = ids.lookup(id);
    q.checkOwner(who);
    ids.remove(q);
    q.messages.clear();
    q.cbytes = 0;
    q.wakeAll();
  }

  /** IPC_INFO ({@code usage} false: the limits) or MSG_INFO (true: queues, messages, bytes in use). */
  public synchronized Info info(boolean usage) {
    int highest = Math.max(ids.highestIndex(), 0);
    if (!usage) {
      return new Info(MSGMNI * MSGMNB / 1024, MSGMNB, MSGMAX, MSGMNB, MSGMNI, 16, MSGMNB, 0xffff, highest);
    }
    long messages = 0;
    long bytes = 0;
    for (Queue q : ids.all()) {
      messages += q.messages.size();
      bytes += q.cbytes;
    }
    return new Info(ids.count(), (int) messages, MSGMAX, MSGMNB, MSGMNI, 16, (int) bytes, 0xffff, highest);
  }
}
