/**
 * x86-64 4-level page tables in guest-physical frames, after gVisor's pagetables package: the
 * entry format in {@link org.vmspace.kvm.paging.Pte}, where table frames come from in {@link
 * org.vmspace.kvm.paging.TableMemory}, the software walker shared by lookups, pread/pwrite and
 * tests in {@link org.vmspace.kvm.paging.PageWalker}, and the per-vmspace editor {@link
 * org.vmspace.kvm.paging.PageTables}.
 *
 * <p>The editor only ever makes non-present entries present by itself. Every other change (a
 * removal, a downgrade, a remap) is returned as a {@link org.vmspace.kvm.paging.Revocation} for
 * the execution flavour to apply with guest-side stores: on shadow-paging hosts a host-side
 * change of a present entry is never seen by the guest.
 */
package org.vmspace.kvm.paging;
