package org.vmspace.pagetest;

/** The three page sizes of x86-64 4-level paging, each with the level of its leaf entry. */
public enum PageSize {
  /** 4 KiB, a PTE. */
  SIZE_4K(Level.PTE),
  /** 2 MiB, a PDE with PS. */
  SIZE_2M(Level.PDE),
  /** 1 GiB, a PDPTE with PS. */
  SIZE_1G(Level.PDPTE);

  private final Level leaf;

  PageSize(Level leaf) {
    this.leaf = leaf;
  }

  /** The level of the leaf entry that maps a page of this size. */
  public Level leafLevel() {
    return leaf;
  }

  /** The size in bytes. */
  public long bytes() {
    return leaf.span();
  }
}
