package org.vmspace.pagetest;

/**
 * The four levels of x86-64 4-level paging, named by their entries: {@link #PML4E} (level 4)
 * down to {@link #PTE} (level 1). Each entry of a level covers {@link #span()} bytes of
 * virtual addresses, indexed by 9 bits of the address starting at {@link #shift()}.
 */
public enum Level {
  /** Entry of the PML4 (level 4): 512 GiB each. */
  PML4E(4),
  /** Entry of a page-directory-pointer table (level 3): 1 GiB each, a leaf with PS. */
  PDPTE(3),
  /** Entry of a page directory (level 2): 2 MiB each, a leaf with PS. */
  PDE(2),
  /** Entry of a page table (level 1): a 4 KiB page. */
  PTE(1);

  private final int number;

  Level(int number) {
    this.number = number;
  }

  /** The level's number, 4 (PML4E) to 1 (PTE), as the SDM and the reference model count. */
  public int number() {
    return number;
  }

  /** The lowest virtual-address bit of this level's index: 39, 30, 21 or 12. */
  public int shift() {
    return 12 + 9 * (number - 1);
  }

  /** The bytes one entry covers: 512 GiB, 1 GiB, 2 MiB or 4 KiB. */
  public long span() {
    return 1L << shift();
  }

  /** The index of {@code va}'s entry in this level's table, 0..511. */
  public int index(long va) {
    return (int) ((va >>> shift()) & 511);
  }

  /** The level one below, or null for {@link #PTE}. */
  public Level below() {
    return number == 1 ? null : of(number - 1);
  }

  /**
   * The level with number {@code n}.
   *
   * @throws IllegalArgumentException if {@code n} is not in 1..4
   */
  public static Level of(int n) {
    return switch (n) {
      case 4 -> PML4E;
      case 3 -> PDPTE;
      case 2 -> PDE;
      case 1 -> PTE;
      default -> throw new IllegalArgumentException("level " + n + " is not in 1..4");
    };
  }
}
