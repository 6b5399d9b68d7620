package org.vmspace.kvm.config;

/**
 * The backend's tuning knobs that are system properties ({@code -Dvmspace.*}), read the same way
 * everywhere: a malformed value is an {@link IllegalArgumentException} naming the property, which
 * {@code vmspace_open} turns into EINVAL before anything else happens.
 */
public final class Settings {
  private Settings() {}

  /**
   * The value of property {@code name} as a count of {@code unit} (in the message only), or
   * {@code defaultValue} where it is not set.
   *
   * @throws IllegalArgumentException if it is set to something other than a number from 0 to
   *     {@link Integer#MAX_VALUE}
   */
  public static int nonNegativeInt(String name, int defaultValue, String unit) {
    String v = System.getProperty(name);
    if (v == null) {
      return defaultValue;
    }
    int n;
    try {
      n = Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a number of " + unit + ": " + v, e);
    }
    if (n < 0) {
      throw new IllegalArgumentException(name + " must be 0 or more: " + n);
    }
    return n;
  }
}
