/** The {@code vkernel} command line (picocli). */
package org.vmspace.vkernel.cli;
