package org.vmspace.kvm.vm;

import org.vmspace.kvm.paging.Revocation;
import org.vmspace.kvm.paging.TableMemory;

/**
 * The VM in which a {@code MAP_VPAGETABLE} address space runs: its memory object sits at
 * guest-physical 0, so the caller's page tables, written with object offsets, are walked by the
 * hardware as they are. What an address space needs of it.
 */
public interface ExecutionDomain {
  /** Reads and writes the VM's guest-physical memory (the object; nothing else is readable). */
  TableMemory tableMemory();

  /** Applies stores to page-table entries in the VM's memory (guest-side, on its maintenance vCPU). */
  void revoke(Revocation revocation);

  /** The PML4 entry that maps the VM's kernel image; every root needs it at index 511. */
  long kernelPml4Entry();
}
