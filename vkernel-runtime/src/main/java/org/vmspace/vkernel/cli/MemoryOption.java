package org.vmspace.vkernel.cli;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.vmspace.vkernel.proc.KernelConfig;

/** {@code vkernel run --memory=SIZE}: parsing the size, and what it makes the vmspace service's limit. */
final class MemoryOption {
  private MemoryOption() {}

  /**
   * The vmspace service's memory limit for {@code committable} bytes of guest memory: room
   * beyond it for what the guests use without committing it (page tables, the page cache of
   * mapped files, shared memory), one eighth more and at least 64 MiB, so a guest that touches
   * all it committed gets its pages and one that commits more gets ENOMEM from mmap rather than
   * a fault the host cannot back.
   */
  static long backendMemory(long committable) {
    long slack = Math.max(64L << 20, committable / 8);
    return committable > Long.MAX_VALUE - slack ? Long.MAX_VALUE : committable + slack;
  }

  private static final Pattern SIZE = Pattern.compile("(\\d+)(?:([kKmMgGtT])(?:i?[bB])?)?");

  /**
   * "512M", "2G", "1048576", "64MiB": a size in bytes with an optional binary suffix (K, M, G, T),
   * at least 16 MiB.
   *
   * @throws IllegalArgumentException if it cannot be parsed, overflows or is below 16 MiB
   */
  static long parseSize(String s) {
    Matcher m = SIZE.matcher(s.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException("--memory: cannot parse '" + s + "' (try 512M, 2G)");
    }
    int shift = m.group(2) == null ? 0 : switch (m.group(2).toUpperCase(java.util.Locale.ROOT)) {
      case "K" -> 10;
      case "M" -> 20;
      case "G" -> 30;
      case "T" -> 40;
      default -> 0;
    };
    long v;
    try {
      v = Long.parseLong(m.group(1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--memory: '" + s + "' is too large");
    }
    if (v > (Long.MAX_VALUE >> shift)) {
      throw new IllegalArgumentException("--memory: '" + s + "' is too large");
    }
    long bytes = v << shift;
    if (bytes < KernelConfig.MIN_MEMORY) {
      throw new IllegalArgumentException("--memory must be at least 16M, got '" + s + "'");
    }
    return bytes;
  }

}
