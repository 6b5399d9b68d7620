/**
 * Guest-physical memory: one memfd per context, mapped once into the host and registered once
 * as a KVM memory slot, and the allocator of its 4 KiB frames.
 */
package org.vmspace.kvm.memory;
