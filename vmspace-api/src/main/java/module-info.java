/**
 * The vmspace API: DragonFly's eight vmspace calls as {@link org.vmspace.api.VmspaceService},
 * its values (ids, frames, traps, errnos) and the service-provider interface through which
 * {@link org.vmspace.api.Vmspaces} finds a backend.
 */
module org.vmspace.api {
  exports org.vmspace.api;
  exports org.vmspace.api.spi;

  uses org.vmspace.api.spi.VmspaceBackend;
}
