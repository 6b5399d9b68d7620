package org.vmspace.api;

import java.util.StringJoiner;

/**
 * The {@code flags} argument of {@code vmspace_mmap}: DragonFly's {@code MAP_*} values.
 *
 * <p>Exactly one of {@link #MAP_SHARED} and {@link #MAP_PRIVATE} must be given; {@link
 * #MAP_ANON} asks for zero-filled memory with no backing. Flags this service does not know are
 * rejected with {@link Errno#EINVAL}.
 */
public final class MapFlags {
  /** Changes are shared with every other mapping of the backing. */
  public static final int MAP_SHARED = 0x0001;
  /** Changes are private (copy-on-write). */
  public static final int MAP_PRIVATE = 0x0002;
  /** Place the mapping exactly at {@code addr}, replacing what was there. */
  public static final int MAP_FIXED = 0x0010;
  /** Accepted and ignored, as on DragonFly. */
  public static final int MAP_NORESERVE = 0x0040;
  /** Accepted and ignored. */
  public static final int MAP_INHERIT = 0x0080;
  /** Accepted and ignored. */
  public static final int MAP_NOEXTEND = 0x0100;
  /** Accepted and ignored. */
  public static final int MAP_HASSEMAPHORE = 0x0200;
  /** A stack: placed like any non-fixed mapping, grows down in DragonFly (here: fixed size). */
  public static final int MAP_STACK = 0x0400;
  /** Accepted and ignored. */
  public static final int MAP_NOSYNC = 0x0800;
  /** Anonymous zero-filled memory; {@code backing} must be {@code null} and offset 0. */
  public static final int MAP_ANON = 0x1000;
  /** The range is translated by the caller's own page tables (see {@code MADV_SETMAP}). */
  public static final int MAP_VPAGETABLE = 0x2000;
  /** Like {@link #MAP_FIXED}, but fail instead of replacing an existing mapping. */
  public static final int MAP_TRYFIXED = 0x00010000;
  /** Accepted and ignored. */
  public static final int MAP_NOCORE = 0x00020000;

  /** Every flag this service accepts. */
  public static final int KNOWN =
      MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE | MAP_INHERIT | MAP_NOEXTEND
          | MAP_HASSEMAPHORE | MAP_STACK | MAP_NOSYNC | MAP_ANON | MAP_VPAGETABLE | MAP_TRYFIXED
          | MAP_NOCORE;

  private MapFlags() {}

  /** The flags as text, e.g. {@code MAP_PRIVATE|MAP_ANON}. */
  public static String toString(int flags) {
    StringJoiner j = new StringJoiner("|");
    add(j, flags, MAP_SHARED, "MAP_SHARED");
    add(j, flags, MAP_PRIVATE, "MAP_PRIVATE");
    add(j, flags, MAP_FIXED, "MAP_FIXED");
    add(j, flags, MAP_NORESERVE, "MAP_NORESERVE");
    add(j, flags, MAP_INHERIT, "MAP_INHERIT");
    add(j, flags, MAP_NOEXTEND, "MAP_NOEXTEND");
    add(j, flags, MAP_HASSEMAPHORE, "MAP_HASSEMAPHORE");
    add(j, flags, MAP_STACK, "MAP_STACK");
    add(j, flags, MAP_NOSYNC, "MAP_NOSYNC");
    add(j, flags, MAP_ANON, "MAP_ANON");
    add(j, flags, MAP_VPAGETABLE, "MAP_VPAGETABLE");
    add(j, flags, MAP_TRYFIXED, "MAP_TRYFIXED");
    add(j, flags, MAP_NOCORE, "MAP_NOCORE");
    int unknown = flags & ~KNOWN;
    if (unknown != 0) {
      j.add("0x" + Integer.toHexString(unknown));
    }
    return j.length() == 0 ? "0" : j.toString();
  }

  private static void add(StringJoiner j, int flags, int flag, String name) {
    if ((flags & flag) != 0) {
      j.add(name);
    }
  }
}
