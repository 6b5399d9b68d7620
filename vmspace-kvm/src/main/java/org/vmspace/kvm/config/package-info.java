/** The backend's settings read from system properties, checked alike. */
package org.vmspace.kvm.config;
