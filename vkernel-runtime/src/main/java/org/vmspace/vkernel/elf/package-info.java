/** ELF64 executables: parsing, and loading into a vmspace with the initial stack Linux builds. */
package org.vmspace.vkernel.elf;
