/**
 * Benchmarks: JMH benchmarks of the tree and the registry against JDK baselines, and
 * side-by-side harnesses of KVM round trips against a C program doing the same work. Run
 * through {@code benchmarks/run NAME}; never part of the unit tests.
 */
package org.vmspace.bench;
