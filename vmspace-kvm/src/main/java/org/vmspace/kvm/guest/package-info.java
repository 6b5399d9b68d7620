/**
 * What the guest sees besides user memory: the guest-physical and virtual layout of the system
 * area ({@link org.vmspace.kvm.guest.GuestLayout}), the descriptor tables, TSS and kernel page
 * tables ({@link org.vmspace.kvm.guest.SystemImage}), and the few instructions of guest code,
 * hand-encoded with one comment per instruction ({@link org.vmspace.kvm.guest.X86Code}).
 */
package org.vmspace.kvm.guest;
