/**
 * The ref-counted id registry of the vmspace contract: the red-black tree of a vkernel context's
 * vmspaces, with active references, the DELETED state and release after the last reference.
 */
package org.vmspace.registry;
