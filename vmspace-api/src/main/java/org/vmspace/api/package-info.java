/**
 * The public vmspace API: DragonFly BSD's virtual-kernel calls ({@code vmspace_create},
 * {@code destroy}, {@code ctl}, {@code mmap}, {@code munmap}, {@code mcontrol}, {@code pread},
 * {@code pwrite}) as a Java service.
 *
 * <p>Users obtain a {@link org.vmspace.api.VmspaceService} from {@link org.vmspace.api.Vmspaces},
 * name address spaces with {@link org.vmspace.api.VmspaceId}s, and run guest code with a
 * {@link org.vmspace.api.TrapFrame} (DragonFly's 200-byte {@code struct trapframe}) and a
 * {@link org.vmspace.api.VextFrame}. Every failure is a {@link org.vmspace.api.VmspaceException}
 * carrying the {@link org.vmspace.api.Errno} of the contract.
 *
 * <p>Value types ({@link org.vmspace.api.VmspaceId}, {@link org.vmspace.api.Prot}) are immutable;
 * the frames are the deliberately mutable objects exchanged with the guest.
 */
package org.vmspace.api;
