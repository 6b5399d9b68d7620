/**
 * Revocation by guest-side stores: the maintenance vCPU runs generated CPL0 code that makes
 * each page-table store of a {@link org.vmspace.kvm.paging.Revocation}, so that KVM, which
 * write-protects the page tables it shadows, sees every change and drops the old translations on
 * every vCPU before the frames are reused.
 */
package org.vmspace.kvm.revoke;
