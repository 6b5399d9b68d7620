/**
 * The guest's file system view: a host directory as {@code /} (read-only by default with a
 * private writable {@code /tmp}), virtual {@code /proc} and {@code /dev}, path resolution that
 * never leaves the root, open file descriptions and per-process descriptor tables.
 */
package org.vmspace.vkernel.fs;
