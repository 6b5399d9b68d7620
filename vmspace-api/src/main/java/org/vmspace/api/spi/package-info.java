/** The service-provider interface through which {@link org.vmspace.api.Vmspaces} finds backends. */
package org.vmspace.api.spi;
