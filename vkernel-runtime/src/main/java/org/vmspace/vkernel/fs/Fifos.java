package org.vmspace.vkernel.fs;

import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * The ends of named pipes (FIFOs) the guest has open, by host inode, so that a blocking open
 * of one end returns as soon as a guest process opens the other, as on Linux.
 *
 * <p>Every FIFO is opened non-blocking on the host (a blocking host open would hold a host
 * thread where no signal reaches it); the kernel emulates the wait. An open end counts from
 * the moment its description exists (before its own open finished waiting, as Linux counts a
 * reader that is waiting for a writer) until the description is closed. Thread-safe.
 */
public final class Fifos {
  private static final class Ends {
    int readers;
    int writers;
    final Set<Runnable> waiters = new LinkedHashSet<>();
  }

  private final Map<HostInode, Ends> ends = new HashMap<>();

  /** Counts an end opened for reading and/or writing and wakes whoever waits on the FIFO. */
  synchronized void opened(HostInode key, boolean reads, boolean writes) {
    Ends e = ends.computeIfAbsent(key, k -> new Ends());
    e.readers += reads ? 1 : 0;
    e.writers += writes ? 1 : 0;
    e.waiters.forEach(Runnable::run);
  }

  /** Forgets an end counted by {@link #opened}. */
  synchronized void closed(HostInode key, boolean reads, boolean writes) {
    Ends e = ends.get(key);
    if (e == null) {
      return;
    }
    e.readers -= reads ? 1 : 0;
    e.writers -= writes ? 1 : 0;
    if (e.readers == 0 && e.writers == 0 && e.waiters.isEmpty()) {
      ends.remove(key);
    }
  }

  /** Whether a guest description has the FIFO open for reading. */
  public synchronized boolean hasReader(HostInode key) {
    Ends e = ends.get(key);
    return e != null && e.readers > 0;
  }

  /** Whether a guest description has the FIFO open for writing. */
  public synchronized boolean hasWriter(HostInode key) {
    Ends e = ends.get(key);
    return e != null && e.writers > 0;
  }

  /** Runs {@code wake} whenever an end of the FIFO is opened, until {@link #stopWaking}. */
  public synchronized void wakeOnOpen(HostInode key, Runnable wake) {
    ends.computeIfAbsent(key, k -> new Ends()).waiters.add(wake);
  }

  /** Undoes {@link #wakeOnOpen}. */
  public synchronized void stopWaking(HostInode key, Runnable wake) {
    Ends e = ends.get(key);
    if (e != null) {
      e.waiters.remove(wake);
      if (e.readers == 0 && e.writers == 0 && e.waiters.isEmpty()) {
        ends.remove(key);
      }
    }
  }

  /**
   * A description of an open FIFO end: a non-blocking host descriptor (blocking I/O is emulated
   * with poll) counted in the registry while it is open.
   */
  public static final class FifoDescription extends HostFileDescription {
    private final Fifos fifos;
    private final HostInode key;
    private final boolean reads;
    private final boolean writes;

    /**
     * @param fd the non-blocking host descriptor, owned from now on
     * @param statusFlags the access mode and O_APPEND/O_NONBLOCK as the guest asked
     */
    public FifoDescription(Fifos fifos, HostInode key, int fd, String path, int statusFlags, boolean mountWritable) {
      super(fd, path, statusFlags, true, mountWritable);
      this.fifos = fifos;
      this.key = key;
      int access = statusFlags & org.vmspace.vkernel.host.Host.O_ACCMODE;
      this.reads = access != org.vmspace.vkernel.host.Host.O_WRONLY;
      this.writes = access != org.vmspace.vkernel.host.Host.O_RDONLY;
      fifos.opened(key, reads, writes);
    }

    /** The FIFO this is an end of. */
    public HostInode key() {
      return key;
    }

    @Override
    protected void close() {
      fifos.closed(key, reads, writes);
      super.close();
    }
  }
}
