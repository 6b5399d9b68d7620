package org.vmspace.vkernel.fs;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A file as the host knows it: device and inode numbers, the identity under which FIFO ends
 * and locks are counted, whatever path or descriptor reached it.
 */
public record HostInode(long dev, long ino) {
  /** The identity in a host {@code struct stat}. */
  public static HostInode of(MemorySegment stat) {
    return new HostInode(stat.get(ValueLayout.JAVA_LONG, 0), stat.get(ValueLayout.JAVA_LONG, 8));
  }

  /** The file behind an open description, by its fstat. */
  public static HostInode of(FileDescription d) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(org.vmspace.vkernel.host.Host.STAT_SIZE, 8);
      d.fstat(st);
      return of(st);
    }
  }
}
