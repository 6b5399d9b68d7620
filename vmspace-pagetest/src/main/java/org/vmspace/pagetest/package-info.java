/**
 * A test kit for guest page-table behaviour on KVM, in the style of kvm-unit-tests'
 * {@code x86/access.c}, from JUnit 5: {@link org.vmspace.pagetest.PageTableBuilder} writes
 * x86-64 4-level tables into a memory object, {@link org.vmspace.pagetest.AccessRunner} runs one
 * user-mode read, write or fetch through them on the machine ({@code MAP_VPAGETABLE}), {@link
 * org.vmspace.pagetest.PageTableKit} adds the reference model ({@code org.vmspace.kvm.paging}),
 * {@link org.vmspace.pagetest.PageTableExtension} / {@link org.vmspace.pagetest.PageTableTest}
 * inject a kit per test, {@link org.vmspace.pagetest.AccessAssert} asserts on results, and
 * {@link org.vmspace.pagetest.AccessMatrix} compares machine and model on every combination of
 * PTE and PDE bits, with the known {@link org.vmspace.pagetest.HostDeviation}s listed.
 */
package org.vmspace.pagetest;
