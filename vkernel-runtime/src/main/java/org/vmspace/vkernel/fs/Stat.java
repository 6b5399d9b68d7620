package org.vmspace.vkernel.fs;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** {@code struct stat} on x86-64 (144 bytes), for files the kernel makes up. */
public final class Stat {
  public static final int S_IFDIR = 0040000;
  public static final int S_IFREG = 0100000;
  public static final int S_IFLNK = 0120000;
  public static final int S_IFCHR = 0020000;
  public static final int S_IFIFO = 0010000;
  /** The st_dev of virtual files. */
  static final long VIRTUAL_DEV = 0x7f00;

  private Stat() {}

  /** Fills a stat for a virtual object: owner root, times of the kernel's start. */
  public static void fill(MemorySegment st, long inode, int mode, long nlink, long size) {
    st.asSlice(0, 144).fill((byte) 0);
    st.set(ValueLayout.JAVA_LONG, 0, VIRTUAL_DEV); // st_dev
    st.set(ValueLayout.JAVA_LONG, 8, inode); // st_ino
    st.set(ValueLayout.JAVA_LONG, 16, nlink); // st_nlink
    st.set(ValueLayout.JAVA_INT, 24, mode); // st_mode
    st.set(ValueLayout.JAVA_LONG, 48, size); // st_size
    st.set(ValueLayout.JAVA_LONG, 56, 4096); // st_blksize
    st.set(ValueLayout.JAVA_LONG, 64, (size + 511) / 512); // st_blocks
    long now = START;
    st.set(ValueLayout.JAVA_LONG, 72, now); // st_atime
    st.set(ValueLayout.JAVA_LONG, 88, now); // st_mtime
    st.set(ValueLayout.JAVA_LONG, 104, now); // st_ctime
  }

  /** st_mode of a filled stat. */
  public static int mode(MemorySegment st) {
    return st.get(ValueLayout.JAVA_INT, 24);
  }

  private static final long START = System.currentTimeMillis() / 1000;
}
