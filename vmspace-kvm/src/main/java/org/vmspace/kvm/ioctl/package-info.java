/**
 * Thin typed wrappers over the KVM ioctl API, one per file-descriptor kind (in the manner of
 * rust-vmm's kvm-ioctls): {@link org.vmspace.kvm.ioctl.KvmSystem} for {@code /dev/kvm}, {@link
 * org.vmspace.kvm.ioctl.KvmVm} for a VM, {@link org.vmspace.kvm.ioctl.KvmVcpu} for a vCPU, and
 * the x86 structure layouts ({@link org.vmspace.kvm.ioctl.KvmRegs}, {@link
 * org.vmspace.kvm.ioctl.KvmSregs}, {@link org.vmspace.kvm.ioctl.KvmRun}). Each method is one
 * ioctl with its errno turned into a {@link org.vmspace.kvm.linux.LinuxException} naming it.
 * Nothing here knows about vmspaces or page tables.
 */
package org.vmspace.kvm.ioctl;
