package org.vmspace.api;

/**
 * What a {@code vmspace_mmap} maps besides anonymous memory: the service's analogue of a file
 * descriptor. Anonymous memory is asked for with {@link MapFlags#MAP_ANON} and a {@code null}
 * backing.
 *
 * <p>A backing is created by a {@link VmspaceService} and can only be mapped by the service that
 * created it (and the services {@linkplain VmspaceService#inherit() inherited} from it). Closing
 * a backing does not affect existing mappings, which keep the memory alive; mapping it again
 * fails with {@link Errno#EBADF}.
 */
public sealed interface Backing extends AutoCloseable permits MemoryObject, HostFile {
  /** The size in bytes. */
  long size();

  /** Whether the backing may be mapped with {@link Prot#PROT_WRITE} and {@link MapFlags#MAP_SHARED}. */
  boolean isWritable();

  /** Whether {@link #close()} has not been called yet. */
  boolean isOpen();

  /** Closes the backing; idempotent. Existing mappings are not affected. */
  @Override
  void close();
}
