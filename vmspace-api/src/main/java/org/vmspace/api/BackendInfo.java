package org.vmspace.api;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What a backend found when it probed the machine: whether it can run guests, and the facts
 * behind that answer (for {@code vkernel info} and bug reports).
 *
 * @param backend the backend's name, e.g. {@code kvm}
 * @param available whether the backend can be opened on this machine
 * @param summary one line: the flavour in use, or why the backend is unavailable
 * @param details ordered facts (device, API version, flavour and why), read-only
 */
public record BackendInfo(
    String backend, boolean available, String summary, Map<String, String> details) {
  /** Copies {@code details}, keeping its order. */
  public BackendInfo {
    Objects.requireNonNull(backend, "backend");
    Objects.requireNonNull(summary, "summary");
    details = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(details));
  }

  /** An unavailable backend with the reason. */
  public static BackendInfo unavailable(String backend, String reason) {
    return new BackendInfo(backend, false, reason, Map.of());
  }
}
