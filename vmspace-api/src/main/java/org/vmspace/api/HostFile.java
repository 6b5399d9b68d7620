package org.vmspace.api;

import java.nio.file.Path;

/**
 * A host file opened by the service for mapping into vmspaces, read-only or read-write.
 *
 * <p>{@link MapFlags#MAP_PRIVATE} mappings are copy-on-write: the guest sees the file's bytes
 * until it writes a page. {@link MapFlags#MAP_SHARED} writable mappings require a file opened
 * read-write ({@link Errno#EACCES} otherwise).
 */
public non-sealed interface HostFile extends Backing {
  /** The path the file was opened with. */
  Path path();
}
