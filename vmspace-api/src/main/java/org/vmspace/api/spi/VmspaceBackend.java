package org.vmspace.api.spi;

import org.vmspace.api.BackendInfo;
import org.vmspace.api.VmspaceOptions;
import org.vmspace.api.VmspaceService;

/**
 * A provider of {@link VmspaceService}s, found with {@link java.util.ServiceLoader}. Backend
 * modules list their implementation in {@code
 * META-INF/services/org.vmspace.api.spi.VmspaceBackend}.
 *
 * <p>Implementations must have a public no-argument constructor that does no work; probing and
 * opening happen in the methods.
 */
public interface VmspaceBackend {
  /** The backend's name, e.g. {@code kvm}. */
  String name();

  /** Higher is preferred when several backends are available. */
  int priority();

  /** Probes the machine; never throws. */
  BackendInfo probe();

  /**
   * Opens a new context.
   *
   * @throws org.vmspace.api.VmspaceException {@link org.vmspace.api.Errno#EOPNOTSUPP} if the
   *     backend cannot run here, or the errno of the failure
   */
  VmspaceService open(VmspaceOptions options);
}
