package org.vmspace.vkernel.proc;

import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.PathBytes;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The {@code #!} line of a script, read as Linux's {@code binfmt_script} reads it (5.0 and
 * later): only the first {@link #BUF_SIZE} bytes of the file count, padded with NULs when the
 * file is shorter; the line ends at the first newline; only spaces and tabs separate (a carriage
 * return is part of the name, so a CRLF script names an interpreter ending in {@code \r}, which
 * is not found, exactly as on Linux); the interpreter name ends at the first space, tab or NUL;
 * everything after it up to the end of the line, trailing spaces and tabs removed, is one
 * optional argument, itself ending at a NUL. A line with no newline in the buffer is accepted
 * only if the name ends inside it (the argument is then cut at the buffer's end); otherwise the
 * name might be truncated and it is ENOEXEC.
 *
 * @param interpreter the interpreter's path, bytes as {@link PathBytes} holds them; empty when the
 *     line holds only a NUL after {@code #!} (Linux then looks up the empty path: ENOENT)
 * @param argument the optional argument, or null
 */
public record Shebang(String interpreter, String argument) {
  /** How much of the file Linux reads to recognise a format (BINPRM_BUF_SIZE). */
  public static final int BUF_SIZE = 256;

  /**
   * Parses the head of a file.
   *
   * @param head the file's first bytes
   * @param n how many of them were read (at most {@code head.length}; fewer than 2, or negative,
   *     is not a script)
   * @return the interpreter and argument, or null if the file does not start with {@code #!}
   * @throws SyscallError ENOEXEC if it starts with {@code #!} but names no interpreter, or the name
   *     does not end inside the first {@link #BUF_SIZE} bytes
   */
  public static Shebang parse(byte[] head, int n) {
    if (n < 2 || head[0] != '#' || head[1] != '!') {
      return null;
    }
    byte[] buf = new byte[BUF_SIZE]; // zero-padded, as Linux's bprm->buf
    System.arraycopy(head, 0, buf, 0, Math.min(Math.min(n, head.length), BUF_SIZE));
    int bufEnd = BUF_SIZE - 1;
    int end = indexOf(buf, (byte) '\n');
    if (end < 0) {
      int first = nextNonSpaceTab(buf, 2, bufEnd);
      if (first < 0) {
        throw new SyscallError(LinuxErrno.ENOEXEC, "#! line of blanks only");
      }
      // Without a later blank or NUL the name may go on past what was read.
      if (nextTerminator(buf, first, bufEnd) < 0) {
        throw new SyscallError(LinuxErrno.ENOEXEC, "#! line too long");
      }
      end = bufEnd;
    }
    while (spaceTab(buf[end - 1])) { // stops at the '!' at the latest
      end--;
    }
    int name = nextNonSpaceTab(buf, 2, end);
    if (name < 0 || name == end) {
      throw new SyscallError(LinuxErrno.ENOEXEC, "no interpreter on the #! line");
    }
    int sep = nextTerminator(buf, name, end);
    int arg = sep >= 0 && buf[sep] != 0 ? nextNonSpaceTab(buf, sep, end) : -1;
    buf[end] = 0;
    if (sep >= 0) {
      buf[sep] = 0;
    }
    return new Shebang(cString(buf, name), arg < 0 ? null : cString(buf, arg));
  }

  private static boolean spaceTab(byte c) {
    return c == ' ' || c == '\t';
  }

  /** The first index in {@code [first, last]} that is not a space or tab, or -1. */
  private static int nextNonSpaceTab(byte[] b, int first, int last) {
    for (int i = first; i <= last; i++) {
      if (!spaceTab(b[i])) {
        return i;
      }
    }
    return -1;
  }

  /** The first index in {@code [first, last]} holding a space, a tab or a NUL, or -1. */
  private static int nextTerminator(byte[] b, int first, int last) {
    for (int i = first; i <= last; i++) {
      if (spaceTab(b[i]) || b[i] == 0) {
        return i;
      }
    }
    return -1;
  }

  private static int indexOf(byte[] b, byte c) {
    for (int i = 0; i < b.length; i++) {
      if (b[i] == c) {
        return i;
      }
    }
    return -1;
  }

  /** The bytes from {@code at} to the next NUL (there is one: the buffer's end was set to NUL). */
  private static String cString(byte[] b, int at) {
    int e = at;
    while (e < b.length && b[e] != 0) {
      e++;
    }
    return PathBytes.of(b, at, e - at);
  }
}
