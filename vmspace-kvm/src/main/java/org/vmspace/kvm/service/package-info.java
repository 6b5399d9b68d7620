/**
 * The KVM backend's implementation of {@link org.vmspace.api.VmspaceService}: the context that
 * owns one VM and its guest memory, the run loop of {@code ctl(RUN)}, the flavour probe, and the
 * {@link org.vmspace.api.spi.VmspaceBackend} found by {@link org.vmspace.api.Vmspaces}.
 */
package org.vmspace.kvm.service;
