package org.vmspace.kvm.flavour;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Whether this host's KVM walks guest page tables with the hardware (AMD NPT, Intel EPT) rather
 * than shadowing them, read from the loaded module's own parameter ({@code
 * /sys/module/kvm_amd/parameters/npt} or {@code /sys/module/kvm_intel/parameters/ept}); KVM
 * clears it at load when the CPU lacks the feature, so it tells what KVM uses, not what was
 * asked for.
 *
 * <p>It decides how revocations are made on the standard flavour: with nested paging a
 * host-side store is what the next walk reads, and a TLB shootdown is all the rest, so no
 * maintenance vCPU has to run; with shadow paging only a guest-side store is seen by KVM. So
 * anything unclear (no such file, an unreadable one, another value) means shadow paging.
 * {@code -Dvmspace.revocationStores=guest} makes guest-side stores everywhere (to test that
 * path on a nested-paging host); nothing can force host stores.
 */
public final class NestedPaging {
  /** The system property: {@code auto} (the default) or {@code guest}. */
  public static final String PROPERTY = "vmspace.revocationStores";

  private static final Path[] PARAMETERS = {
    Path.of("/sys/module/kvm_amd/parameters/npt"), Path.of("/sys/module/kvm_intel/parameters/ept"),
  };

  private static volatile Boolean cached;

  private NestedPaging() {}

  /**
   * Whether the module parameter says nested paging is in use (read once).
   */
  public static boolean inUse() {
    Boolean b = cached;
    if (b == null) {
      b = readParameters(PARAMETERS);
      cached = b;
    }
    return b;
  }

  /**
   * Whether revocations may be made by host-side stores: nested paging is in use and {@value
   * #PROPERTY} does not ask for guest-side stores.
   *
   * @throws IllegalArgumentException if the property is neither {@code auto} nor {@code guest}
   */
  public static boolean hostStoresAllowed() {
    String mode = System.getProperty(PROPERTY, "auto").trim();
    return switch (mode) {
      case "auto" -> inUse();
      case "guest" -> false;
      default -> throw new IllegalArgumentException(PROPERTY + " must be auto or guest: " + mode);
    };
  }

  /** True if one of {@code files} exists and reads {@code Y} or {@code 1} (a trailing newline allowed). */
  static boolean readParameters(Path... files) {
    for (Path p : files) {
      if (!Files.exists(p)) {
        continue;
      }
      // A sysfs file reports size 0 (or 4096): read it as a stream, never by its size.
      try (InputStream in = Files.newInputStream(p)) {
        String v = new String(in.readNBytes(16), StandardCharsets.US_ASCII).trim();
        return v.equals("Y") || v.equals("1");
      } catch (IOException e) {
        return false;
      }
    }
    return false;
  }
}
