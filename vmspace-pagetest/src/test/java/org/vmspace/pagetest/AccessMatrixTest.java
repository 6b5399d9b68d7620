package org.vmspace.pagetest;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The matrix's enumeration and pruning, on the host. */
class AccessMatrixTest {
  @Test
  void theCasesAreEveryCombinationThatCanMatterOnce() {
    List<AccessMatrix.Case> cases = AccessMatrix.cases();
    assertThat(cases).hasSize(AccessMatrix.CASES).hasSize(25_152);
    assertThat(new HashSet<>(cases)).hasSameSizeAs(cases);
    assertThat(AccessMatrix.UNPRUNED).isEqualTo(98_304);
    for (UserAccess.Type type : UserAccess.Type.values()) {
      List<AccessMatrix.Case> of = cases.stream().filter(c -> c.type() == type).toList();
      assertThat(of).hasSize(AccessMatrix.CASES / 3);
      // Every PDE combination appears.
      Set<Long> pdes = new HashSet<>();
      of.forEach(c -> pdes.add(c.pde()));
      assertThat(pdes).hasSize(256);
      // Where the PTE is read, all 128 PTE combinations appear; where not, only 0.
      for (long pde : pdes) {
        Set<Long> ptes = new HashSet<>();
        of.stream().filter(c -> c.pde() == pde).forEach(c -> ptes.add(c.pte()));
        boolean readsPte = (pde & Bits.P) != 0 && (pde & Bits.PS) == 0;
        assertThat(ptes).as("pde %s", Bits.describe(pde)).hasSize(readsPte ? 128 : 1);
        if (!readsPte) {
          assertThat(ptes).containsExactly(0L);
        }
      }
    }
    long mask = 0;
    for (long bit : AccessMatrix.PDE_BITS) {
      mask |= bit;
    }
    long pdeMask = mask;
    assertThat(cases).allMatch(c -> (c.pde() & ~pdeMask) == 0 && (c.pte() & ~(pdeMask & ~Bits.PS)) == 0);
  }

  @Test
  void theAddressAndFramesAreWhereTheJavadocSays() {
    assertThat(Level.PML4E.index(AccessMatrix.VA)).isEqualTo(1);
    assertThat(Level.PDPTE.index(AccessMatrix.VA)).isEqualTo(3);
    assertThat(Level.PDE.index(AccessMatrix.VA)).isEqualTo(5);
    assertThat(Level.PTE.index(AccessMatrix.VA)).isEqualTo(7);
    assertThat(AccessMatrix.VA & 0xFFF).isEqualTo(0x88);
    assertThat(AccessMatrix.FRAME_2M % (2 << 20)).isZero();
    assertThat(AccessMatrix.FRAME_4K).isGreaterThanOrEqualTo(PageTableKit.DEFAULT_TABLE_REGION_END);
    assertThat(AccessMatrix.MEMORY_NEEDED).isLessThanOrEqualTo(PageTableKit.DEFAULT_MEMORY);
    assertThat(new AccessMatrix.Case(UserAccess.Type.WRITE, Bits.P | Bits.PS | AccessMatrix.RSVD, 0))
        .hasToString("write pde[P PS b51] pte[not read]");
    assertThat(new AccessMatrix.Case(UserAccess.Type.FETCH, Bits.P | Bits.US, Bits.P | Bits.NX))
        .hasToString("fetch pde[P US] pte[P NX]");
  }

  @Test
  void aReportSumsItsDeviationsAndListsItsMismatches() {
    AccessMatrix.Case c = new AccessMatrix.Case(UserAccess.Type.READ, Bits.P, Bits.P);
    AccessMatrix.Report r = new AccessMatrix.Report("emulated-svm-npt-off", 10, 2,
        List.of(new AccessMatrix.Mismatch(c, "error code differs")), java.util.Map.of("error code", 2), java.util.Map.of("x", 3),
        java.time.Duration.ofMillis(1500));
    assertThat(r.deviated()).isEqualTo(3);
    assertThat(r.lines()).containsExactly(
        "mismatch: read pde[P] pte[P]: error code differs",
        "... and 1 more mismatches",
        "mismatch kind: error code: 2 cases",
        "host deviation x: 3 cases",
        "10 cases (of 98304 combinations) in 1.5 s, 150.00 ms per case, where emulated-svm-npt-off");
    assertThat(AccessMatrix.knownDeviations()).containsExactly(AccessMatrix.QEMU_TCG_RSVD_WITHOUT_P);
  }
}
