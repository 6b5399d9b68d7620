package org.vmspace.vkernel.net;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The descriptions in flight in one kernel's AF_UNIX sockets (SCM_RIGHTS). The guest's files
 * are Java objects the host cannot carry, so a message with descriptors carries instead, in a
 * real host SCM_RIGHTS control message on the same host send as its bytes, one <em>token</em>:
 * the write end of a fresh host pipe, whose inode names an entry here holding a reference to
 * each description. The host attaches the token to exactly the message it came with, so which
 * receive gets it is Linux's own decision (the first recvmsg that reads bytes of that message;
 * a stream read stops after a message with descriptors; MSG_PEEK gets a copy and leaves it);
 * the receiver turns the token back into the descriptions with {@link #claim}.
 *
 * <p>Lifetimes: an entry holds one reference to each description until it is claimed, so a
 * description passed and not yet received stays open (a pipe's write end in flight keeps its
 * reader from EOF, as on Linux). When the host drops a message unread — its receiving socket is
 * closed with it queued — it closes the token; the entry keeps the pipe's read end, which then
 * reports POLLHUP, and {@link #sweep} (run after a socket closes and after plain reads, which
 * discard control data) releases such entries. Not done: Linux's garbage collection of
 * descriptors in flight in a cycle (a socket sent over itself and closed): such descriptions
 * stay open until the kernel ends.
 *
 * <p>Thread-safe; descriptions are released outside the lock, since the last release of a
 * socket sweeps again.
 */
public final class InFlight {
  private record Entry(int readFd, List<FileDescription> files) {}

  /** A token made for one send: its host descriptor to send, and its key. */
  public static final class Token {
    private final int writeFd;
    private final long inode;
    private boolean sent;

    private Token(int writeFd, long inode) {
      this.writeFd = writeFd;
      this.inode = inode;
    }

    /** The host descriptor to put in the host message's SCM_RIGHTS. */
    public int hostFd() {
      return writeFd;
    }

    /** The host accepted a message carrying it. */
    public void sent() {
      sent = true;
    }

    /** Whether the host accepted a message carrying it. */
    public boolean wasSent() {
      return sent;
    }
  }

  private final Map<Long, Entry> entries = new HashMap<>();

  private static long inode(int fd) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      int r = Host.fstat(fd, st);
      return r < 0 ? -1 : st.get(ValueLayout.JAVA_LONG, 8);
    }
  }

  /**
   * A token for {@code files}, whose references the entry takes over (they are released if this
   * fails).
   *
   * @throws SyscallError the host's errno if it has no room for a pipe (EMFILE, ENFILE)
   */
  public Token attach(List<FileDescription> files) {
    int[] p = Host.pipe2(Host.O_CLOEXEC | Host.O_NONBLOCK);
    if (p[0] < 0) {
      files.forEach(FileDescription::release);
      throw new SyscallError(-p[0], "pipe2");
    }
    long ino = inode(p[0]);
    synchronized (this) {
      entries.put(ino, new Entry(p[0], new ArrayList<>(files)));
    }
    return new Token(p[1], ino);
  }

  /**
   * The send is over: closes this side's token. If no host message took the token, the entry is
   * dropped and its descriptions released now; otherwise it waits for its receiver.
   */
  public void finish(Token t) {
    Host.close(t.writeFd);
    if (!t.sent) {
      Entry e;
      synchronized (this) {
        e = entries.remove(t.inode);
      }
      if (e != null) {
        Host.close(e.readFd);
        e.files.forEach(FileDescription::release);
      }
    }
  }

  /**
   * The descriptions behind a token the host delivered (descriptor {@code hostFd}, which is
   * closed here). With {@code peek} the message stays queued: the caller gets new references and
   * the entry stays; otherwise the entry's own references pass to the caller. A token the kernel
   * does not know (none of its sends) gives nothing.
   */
  public List<FileDescription> claim(int hostFd, boolean peek) {
    long ino = inode(hostFd);
    Entry e;
    List<FileDescription> out;
    synchronized (this) {
      e = peek ? entries.get(ino) : entries.remove(ino);
      if (e == null) {
        out = List.of();
      } else if (peek) {
        out = new ArrayList<>(e.files.size());
        for (FileDescription d : e.files) {
          out.add(d.retain());
        }
      } else {
        out = e.files;
      }
    }
    Host.close(hostFd);
    if (e != null && !peek) {
      Host.close(e.readFd);
    }
    return out;
  }

  /** Releases the entries whose tokens the host has closed (their messages were dropped). */
  public void sweep() {
    List<Entry> dead = new ArrayList<>();
    synchronized (this) {
      if (entries.isEmpty()) {
        return;
      }
      List<Entry> all = new ArrayList<>(entries.values());
      try (Arena a = Arena.ofConfined()) {
        MemorySegment fds = a.allocate(8L * all.size(), 8);
        for (int i = 0; i < all.size(); i++) {
          fds.set(ValueLayout.JAVA_INT, 8L * i, all.get(i).readFd);
          fds.set(ValueLayout.JAVA_SHORT, 8L * i + 4, (short) 0);
          fds.set(ValueLayout.JAVA_SHORT, 8L * i + 6, (short) 0);
        }
        if (Host.poll(fds, all.size(), 0) <= 0) {
          return;
        }
        for (int i = 0; i < all.size(); i++) {
          if ((fds.get(ValueLayout.JAVA_SHORT, 8L * i + 6) & Host.POLLHUP) != 0) {
            dead.add(all.get(i));
          }
        }
      }
      entries.values().removeAll(dead);
    }
    for (Entry e : dead) {
      Host.close(e.readFd);
      e.files.forEach(FileDescription::release);
    }
  }

  /** How many messages with descriptors are in flight. */
  public synchronized int size() {
    return entries.size();
  }
}
