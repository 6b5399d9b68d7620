package org.vmspace.vkernel.fuzz;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;

/**
 * Structure-aware mutations of ELF files and {@code #!} lines, driven by a seeded {@link Random}
 * (the same seed gives the same cases). Coverage-blind: it knows the formats' fields instead of
 * watching branches. An ELF mutation changes one to four things: a bit, a byte, a header or
 * program-header field set to a boundary value (0, 1, -1, 2^63, the file size, the user limit,
 * off by one, unaligned, huge), a truncation, an extension, a copied program header (overlap),
 * a segment moved over another, or a PT_INTERP pointing somewhere hostile.
 */
final class Mutator {
  static final long USER_LIMIT = 0x0000_7FFF_FFE0_0000L;
  private final Random r;

  Mutator(Random r) {
    this.r = r;
  }

  /** Offsets of the ELF header fields worth mutating, and their sizes. */
  private static final int[][] EHDR_FIELDS = {
    {4, 1}, {5, 1}, {16, 2}, {18, 2}, {24, 8}, {32, 8}, {54, 2}, {56, 2},
  };

  /** Offsets within a program header of its fields, and their sizes. */
  private static final int[][] PHDR_FIELDS = {
    {0, 4}, {4, 4}, {8, 8}, {16, 8}, {32, 8}, {40, 8}, {48, 8},
  };

  /** A boundary value for a field of a file of {@code size} bytes whose value is {@code now}. */
  long interesting(long now, long size) {
    long[] v = {
      0, 1, 2, 55, 56, 57, 64, 73, 74, 255, 256, 4095, 4096, 4097, 0xffff, 0x10000, -1, -2, -4096, Long.MIN_VALUE,
      Long.MAX_VALUE, Long.MAX_VALUE - 55, size, size - 1, size + 1, size - 56, now + 1, now - 1, now + 4096,
      now - 4096, now * 2, now | (1L << 63), now ^ (1L << 47), USER_LIMIT, USER_LIMIT - 4096, USER_LIMIT - 1,
      USER_LIMIT + 4096, 0x7FFF_FF00_0000L, 0x7F00_0000_0000L, 0x5555_5555_4000L, 0x400000, 1L << 32, 1L << 40,
      1L << 46, 1L << 47, 1L << 48, 5L << 30, r.nextLong(), r.nextInt(1 << 20),
    };
    return v[r.nextInt(v.length)];
  }

  /** A mutated copy of the ELF image {@code in}, with PT_INTERP targets from {@code paths}. */
  byte[] mutateElf(byte[] in, String[] paths) {
    byte[] b = in.clone();
    int n = 1 + r.nextInt(4);
    for (int i = 0; i < n; i++) {
      b = mutateOnce(b, paths);
    }
    return b;
  }

  private static ByteBuffer le(byte[] b) {
    return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
  }

  private static long get(byte[] b, int at, int size) {
    if (at < 0 || at + size > b.length) {
      return 0;
    }
    ByteBuffer bb = le(b);
    return switch (size) {
      case 1 -> Byte.toUnsignedLong(bb.get(at));
      case 2 -> Short.toUnsignedLong(bb.getShort(at));
      case 4 -> Integer.toUnsignedLong(bb.getInt(at));
      default -> bb.getLong(at);
    };
  }

  private static void put(byte[] b, int at, int size, long v) {
    if (at < 0 || at + size > b.length) {
      return;
    }
    ByteBuffer bb = le(b);
    switch (size) {
      case 1 -> bb.put(at, (byte) v);
      case 2 -> bb.putShort(at, (short) v);
      case 4 -> bb.putInt(at, (int) v);
      default -> bb.putLong(at, v);
    }
  }

  /** Where program header {@code i} lies, from the image's own e_phoff (clamped into an int). */
  private static int phdrAt(byte[] b, int i) {
    long phoff = get(b, 32, 8);
    if (phoff < 0 || phoff > b.length) {
      return -1;
    }
    return (int) phoff + 56 * i;
  }

  private static int phnum(byte[] b) {
    return (int) Math.min(get(b, 56, 2), 64);
  }

  private byte[] mutateOnce(byte[] b, String[] paths) {
    int phnum = Math.max(1, phnum(b));
    switch (r.nextInt(12)) {
      case 0 -> { // one bit
        if (b.length > 0) {
          int at = r.nextInt(b.length);
          b[at] ^= (byte) (1 << r.nextInt(8));
        }
      }
      case 1 -> { // one byte
        if (b.length > 0) {
          b[r.nextInt(b.length)] = (byte) new int[] {0, 0xff, 0x7f, 0x80, r.nextInt(256)}[r.nextInt(5)];
        }
      }
      case 2 -> { // an ELF header field
        int[] f = EHDR_FIELDS[r.nextInt(EHDR_FIELDS.length)];
        put(b, f[0], f[1], interesting(get(b, f[0], f[1]), b.length));
      }
      case 3, 4, 5 -> { // a program header field, the most likely to matter
        int at = phdrAt(b, r.nextInt(phnum));
        int[] f = PHDR_FIELDS[r.nextInt(PHDR_FIELDS.length)];
        if (at >= 0) {
          long v = f[0] == 0 ? new long[] {0, 1, 2, 3, 4, 6, 7, 0x6474e551L, 0x70000000L, r.nextInt()}[r.nextInt(10)]
              : interesting(get(b, at + f[0], f[1]), b.length);
          put(b, at + f[0], f[1], v);
        }
      }
      case 6 -> { // truncation: anywhere, or at a header boundary
        int cut = r.nextBoolean() ? r.nextInt(b.length + 1)
            : Math.min(b.length, new int[] {0, 1, 4, 16, 63, 64, 65, 64 + 56 * r.nextInt(phnum + 1) - 1}[r.nextInt(8)]);
        b = Arrays.copyOf(b, Math.max(0, cut));
      }
      case 7 -> { // extension with random bytes or zeros
        int add = new int[] {1, 7, 56, 4096, r.nextInt(9000)}[r.nextInt(5)];
        byte[] t = Arrays.copyOf(b, b.length + add);
        if (r.nextBoolean()) {
          for (int i = b.length; i < t.length; i++) {
            t[i] = (byte) r.nextInt(256);
          }
        }
        b = t;
      }
      case 8 -> { // one program header copied over another: overlapping segments
        int from = phdrAt(b, r.nextInt(phnum));
        int to = phdrAt(b, r.nextInt(phnum));
        if (from >= 0 && to >= 0 && from + 56 <= b.length && to + 56 <= b.length) {
          System.arraycopy(b, from, b, to, 56);
          if (r.nextBoolean()) {
            put(b, to + 16, 8, get(b, to + 16, 8) + r.nextInt(3) * 4096L - 4096);
          }
        }
      }
      case 9 -> { // e_phnum off by some, or phentsize changed
        put(b, 56, 2, new long[] {0, phnum + 1, phnum - 1, 73, 74, 0xffff, r.nextInt(300)}[r.nextInt(7)]);
      }
      case 10 -> { // a PT_INTERP to a hostile path, appended to the file
        byte[] path = (paths[r.nextInt(paths.length)] + (r.nextInt(8) == 0 ? "" : "\0")).getBytes(StandardCharsets.ISO_8859_1);
        int at = phdrAt(b, r.nextInt(phnum));
        if (at >= 0 && at + 56 <= b.length) {
          int off = b.length;
          b = Arrays.copyOf(b, b.length + path.length);
          System.arraycopy(path, 0, b, off, path.length);
          put(b, at, 4, 3);
          put(b, at + 8, 8, r.nextInt(10) == 0 ? interesting(off, b.length) : off);
          put(b, at + 32, 8, r.nextInt(10) == 0 ? interesting(path.length, b.length) : path.length);
        }
      }
      default -> { // a huge or misaligned PT_LOAD
        int at = phdrAt(b, r.nextInt(phnum));
        if (at >= 0 && at + 56 <= b.length) {
          put(b, at, 4, 1);
          switch (r.nextInt(4)) {
            case 0 -> put(b, at + 40, 8, new long[] {1L << 32, 5L << 30, 1L << 40, 1L << 46, USER_LIMIT}[r.nextInt(5)]);
            case 1 -> put(b, at + 16, 8, get(b, at + 16, 8) + 1 + r.nextInt(4095));
            case 2 -> put(b, at + 8, 8, get(b, at + 8, 8) + 1 + r.nextInt(4095));
            default -> put(b, at + 48, 8, new long[] {0, 1, 3, 4096, 1L << 21, 1L << 40, -1}[r.nextInt(7)]);
          }
        }
      }
    }
    return b;
  }

  /** A blank of Linux's #! line (space or tab). */
  String blank() {
    return r.nextBoolean() ? " " : "\t";
  }

  /** One or more blanks. */
  String blanks() {
    StringBuilder s = new StringBuilder(blank());
    while (r.nextInt(3) == 0) {
      s.append(blank());
    }
    return s.toString();
  }

  /** A word of ordinary bytes (no blank, newline or NUL). */
  String word(int max) {
    int n = 1 + r.nextInt(max);
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < n; i++) {
      s.append((char) new int[] {'a' + r.nextInt(26), '-', '=', '.', 0xe9, 0xff}[r.nextInt(6)]);
    }
    return s.toString();
  }

  /** Mutations of a #! line that only the invariants can judge: odd bytes, lengths, endings. */
  byte[] mutateScript(byte[] in) {
    byte[] b = in.clone();
    switch (r.nextInt(8)) {
      case 0 -> b = Arrays.copyOf(b, r.nextInt(b.length + 1)); // truncated, maybe before the newline
      case 1 -> { // a NUL, CR, VT or FF somewhere
        if (b.length > 2) {
          b[2 + r.nextInt(b.length - 2)] = (byte) new int[] {0, '\r', 0x0b, '\f', '\n', ' '}[r.nextInt(6)];
        }
      }
      case 2 -> { // a line longer than the 256 bytes Linux reads, with or without a blank in it
        int len = 240 + r.nextInt(40);
        byte[] t = new byte[len + b.length];
        System.arraycopy(b, 0, t, 0, Math.min(b.length, 2));
        Arrays.fill(t, 2, len, (byte) 'x');
        if (r.nextBoolean()) {
          t[2 + r.nextInt(len - 2)] = (byte) (r.nextBoolean() ? ' ' : 0);
        }
        System.arraycopy(b, Math.min(b.length, 2), t, len, b.length - Math.min(b.length, 2));
        b = t;
      }
      case 3 -> { // only blanks
        byte[] t = new byte[2 + r.nextInt(300)];
        t[0] = '#';
        t[1] = '!';
        for (int i = 2; i < t.length; i++) {
          t[i] = (byte) (r.nextBoolean() ? ' ' : '\t');
        }
        b = t;
      }
      case 4 -> { // random bytes after #!
        byte[] t = new byte[2 + r.nextInt(300)];
        r.nextBytes(t);
        t[0] = '#';
        t[1] = '!';
        b = t;
      }
      case 5 -> b = new byte[] {'#', '!'}; // nothing after #!
      case 6 -> { // a bit flip
        if (b.length > 0) {
          b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
        }
      }
      default -> { // doubled line
        byte[] t = Arrays.copyOf(b, b.length * 2);
        System.arraycopy(b, 0, t, b.length, b.length);
        b = t;
      }
    }
    return b;
  }

  Random random() {
    return r;
  }
}
