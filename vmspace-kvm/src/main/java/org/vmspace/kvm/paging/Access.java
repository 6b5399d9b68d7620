package org.vmspace.kvm.paging;

/** A user-mode memory access: a data read, a data write or an instruction fetch. */
public enum Access {
  READ,
  WRITE,
  EXECUTE
}
