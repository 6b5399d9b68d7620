package org.vmspace.pagetest;

/**
 * One entry on the walk of a virtual address, as read from memory at one moment.
 *
 * @param level its level
 * @param address its physical address (the offset in the memory that holds the tables)
 * @param value its 64-bit value
 */
public record WalkEntry(Level level, long address, long value) {
  /** Whether its present bit is set. */
  public boolean present() {
    return (value & Bits.P) != 0;
  }

  /** Whether it maps a page: a PTE, or a PDPTE or PDE with PS. */
  public boolean leaf() {
    return level == Level.PTE || ((level == Level.PDE || level == Level.PDPTE) && (value & Bits.PS) != 0);
  }

  /** {@code PDE@0x2028=0x3000[P RW US]}. */
  @Override
  public String toString() {
    return level + "@0x" + Long.toHexString(address) + "=" + Bits.describe(value);
  }
}
