/**
 * Address-space semantics: each vmspace's map of entries on the red-black tree (with the
 * largest-free-gap augmentation for O(log n) placement), the objects behind mappings, demand
 * paging and copy-on-write, and the checks of mmap, munmap, mcontrol, pread and pwrite in the
 * contract's order.
 */
package org.vmspace.kvm.vm;
