package org.vmspace.vkernel.sys;

import java.nio.charset.StandardCharsets;

/**
 * How the vkernel holds Linux file names, paths and link targets: as Java strings that carry one
 * byte per {@code char} (ISO-8859-1, a bijection between bytes and the chars U+0000..U+00FF).
 *
 * <p>Linux names are bytes, not text: every byte but {@code /} and NUL may appear in a name, and
 * a name need not be valid UTF-8. Holding them this way keeps every byte from the guest to the
 * host and back — nothing is ever decoded, so nothing can be replaced by U+FFFD — while the path
 * logic (splitting at {@code '/'}, comparing with {@code "proc"} or {@code ".."}, hashing) keeps
 * working on strings, because every ASCII byte is the same char. Convert only at the edges: bytes
 * read from guest memory or returned by the host go through {@link #of}, bytes written to guest
 * memory or handed to the host through {@link #bytes}; text from a Java caller (a command line, the
 * embedding API) through {@link #fromText}.
 */
public final class PathBytes {
  private PathBytes() {}

  /** The string holding exactly {@code bytes}, one char per byte. */
  public static String of(byte[] bytes) {
    return new String(bytes, StandardCharsets.ISO_8859_1);
  }

  /** The string holding {@code bytes[offset, offset + length)}, one char per byte. */
  public static String of(byte[] bytes, int offset, int length) {
    return new String(bytes, offset, length, StandardCharsets.ISO_8859_1);
  }

  /**
   * The bytes a path string holds.
   *
   * @throws IllegalArgumentException if {@code path} holds a char above U+00FF (it was built from
   *     text without {@link #fromText}), rather than silently writing {@code ?} in its place
   */
  public static byte[] bytes(String path) {
    byte[] out = new byte[path.length()];
    for (int i = 0; i < out.length; i++) {
      char ch = path.charAt(i);
      if (ch > 0xff) {
        throw new IllegalArgumentException("not a byte string (char U+" + Integer.toHexString(ch) + "): use fromText");
      }
      out[i] = (byte) ch;
    }
    return out;
  }

  /** The path string for Unicode text, as a Linux program would pass it: its UTF-8 bytes. */
  public static String fromText(String text) {
    return of(text.getBytes(StandardCharsets.UTF_8));
  }

  /** Text for people (error messages): the bytes read as UTF-8, invalid sequences replaced. */
  public static String toText(String path) {
    return new String(bytes(path), StandardCharsets.UTF_8);
  }
}
