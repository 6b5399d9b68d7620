package org.vmspace.api;

import java.lang.foreign.MemorySegment;

/**
 * A memory object created by the service: zero-filled memory that can be mapped into any number
 * of vmspaces ({@link MapFlags#MAP_SHARED} mappings all see the same bytes) and that the caller
 * reads and writes directly through {@link #segment()}. It is the equivalent of the memory-image
 * file a DragonFly vkernel maps as its physical memory, and the backing of {@link
 * MapFlags#MAP_VPAGETABLE} page tables.
 *
 * <p>Its memory counts against the service's memory limit and is released when the object is
 * closed and no mapping uses it any more.
 */
public non-sealed interface MemoryObject extends Backing {
  /**
   * The caller's view of the object's bytes: writes are visible to every guest that maps the
   * object shared, and guest writes are visible here.
   *
   * @throws IllegalStateException if the object is closed
   */
  MemorySegment segment();

  /** Memory objects are always writable. */
  @Override
  default boolean isWritable() {
    return true;
  }
}
