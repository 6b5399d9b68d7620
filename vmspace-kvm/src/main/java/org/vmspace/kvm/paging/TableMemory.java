package org.vmspace.kvm.paging;

/**
 * Where page tables live: reads and host-side writes of 64-bit entries by guest-physical
 * address, and zeroed frames for new tables (gVisor's Allocator). Production uses guest memory;
 * tests use a heap array.
 */
public interface TableMemory {
  /** Reads the entry at {@code gpa}. */
  long read(long gpa);

  /** Writes the entry at {@code gpa} from the host. */
  void write(long gpa, long value);

  /**
   * A zeroed frame for a new table.
   *
   * @return its guest-physical address, or -1 if memory is exhausted
   */
  long allocateTable();
}
