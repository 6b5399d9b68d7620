package org.vmspace.vkernel.mem;

/**
 * A mapped file's identity as {@code /proc/PID/maps} prints it: the device (in the host's
 * {@code st_dev} encoding) and the inode.
 *
 * @param dev the device number as {@code stat} returns it
 * @param ino the inode number
 */
public record FileId(long dev, long ino) {
  /** Anonymous memory and mappings of no file: {@code 00:00 0}. */
  public static final FileId NONE = new FileId(0, 0);

  /** The device's major number (glibc's {@code gnu_dev_major}). */
  public long major() {
    return ((dev >>> 8) & 0xfff) | ((dev >>> 32) & 0xFFFF_F000L);
  }

  /** The device's minor number (glibc's {@code gnu_dev_minor}). */
  public long minor() {
    return (dev & 0xff) | ((dev >>> 12) & 0xFFFF_FF00L);
  }
}
