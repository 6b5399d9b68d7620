/**
 * What differs between kinds of {@code /dev/kvm}: the guest stubs, how exits are recognised as
 * the stubs' own, and which MSR values make {@code syscall} reach the stub. {@link
 * org.vmspace.kvm.flavour.FlavourProbe} tells the kinds apart at start-up by running a
 * one-instruction guest; {@link org.vmspace.kvm.flavour.PvmFlavour} is the PVM-style kind of
 * this project's machines.
 */
package org.vmspace.kvm.flavour;
