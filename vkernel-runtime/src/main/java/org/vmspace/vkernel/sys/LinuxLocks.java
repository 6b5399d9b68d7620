package org.vmspace.vkernel.sys;

/**
 * Linux's x86-64 ABI for advisory locks, shared by the guest's calls and the host's: fcntl's
 * lock commands, {@code struct flock}'s types and size, flock(2)'s operations.
 */
public final class LinuxLocks {
  public static final int F_GETLK = 5;
  public static final int F_SETLK = 6;
  public static final int F_SETLKW = 7;
  public static final int F_OFD_GETLK = 36;
  public static final int F_OFD_SETLK = 37;
  public static final int F_OFD_SETLKW = 38;
  public static final short F_RDLCK = 0;
  public static final short F_WRLCK = 1;
  public static final short F_UNLCK = 2;
  /**
   * {@code struct flock}: l_type (short) at 0, l_whence (short) at 2, l_start at 8, l_len at 16,
   * l_pid (int) at 24.
   */
  public static final int FLOCK_SIZE = 32;
  public static final int LOCK_SH = 1;
  public static final int LOCK_EX = 2;
  public static final int LOCK_NB = 4;
  public static final int LOCK_UN = 8;

  private LinuxLocks() {}
}
