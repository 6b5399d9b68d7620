package org.vmspace.pagetest;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.vmspace.kvm.paging.Outcome;

/**
 * kvm-unit-tests' {@code x86/access.c} as a matrix: every combination of the PTE's and the PDE's
 * U/S, R/W, NX, P, A, D and one reserved bit (51), with the PDE's PS, times a user read, write
 * and instruction fetch, each run on the machine and by the reference model and compared: fault
 * or not, error code, CR2, and every entry on the walk afterwards (bits the architecture leaves
 * open excepted).
 *
 * <p>Pruned: the PTE's bits when the PDE is not present or is a 2 MiB leaf (the walk never reads
 * the PTE then); everything else runs. {@link #cases()} has {@value #CASES} cases of the {@value
 * #UNPRUNED} combinations.
 *
 * <p>The address is {@link #VA} (root slot 1, PDPT 3, PD 5, PT 7, offset 0x88); its PML4E and
 * PDPTE are {@code P RW US A}; the PTE maps the 4 KiB frame {@link #FRAME_4K}, a PS PDE the 2 MiB
 * frame {@link #FRAME_2M}. A disagreement that a {@link HostDeviation} of the run explains is
 * counted under that deviation's name; any other is a mismatch.
 */
public final class AccessMatrix {
  /** The address every case accesses. */
  public static final long VA = (1L << 39) | (3L << 30) | (5L << 21) | (7L << 12) | 0x88;
  /** The frame the PTE maps. */
  public static final long FRAME_4K = 0x30_0000;
  /** The frame a 2 MiB PDE maps. */
  public static final long FRAME_2M = 0x40_0000;
  /** The reserved bit of the matrix: 51, reserved below MAXPHYADDR 52. */
  public static final long RSVD = 1L << 51;
  /** The PTE bits that vary, in the order of a case's index bits. */
  public static final List<Long> PTE_BITS = List.of(Bits.US, Bits.RW, Bits.NX, Bits.P, Bits.A, Bits.D, RSVD);
  /** The PDE bits that vary. */
  public static final List<Long> PDE_BITS = List.of(Bits.US, Bits.RW, Bits.NX, Bits.P, Bits.A, Bits.D, RSVD, Bits.PS);
  /** All combinations: 2^7 PTE x 2^8 PDE x 3 accesses. */
  public static final int UNPRUNED = 128 * 256 * 3;
  /** The cases after pruning: (64 x 128 + 64 + 128) x 3. */
  public static final int CASES = (64 * 128 + 64 + 128) * 3;
  /** The memory the matrix needs: {@link #FRAME_2M} and its 2 MiB. */
  public static final long MEMORY_NEEDED = FRAME_2M + (2L << 20);

  private static final long UPPER = Bits.P | Bits.RW | Bits.US | Bits.A;

  private AccessMatrix() {}

  /**
   * One case: the access and the varying flags of the PDE and the PTE (0 when pruned).
   *
   * @param type the access
   * @param pde the PDE's flags (a subset of {@link #PDE_BITS})
   * @param pte the PTE's flags (a subset of {@link #PTE_BITS}), 0 when the PDE is not present or PS
   */
  public record Case(UserAccess.Type type, long pde, long pte) {
    /** Whether the PTE's bits matter (the PDE is present and points to a page table). */
    public boolean readsPte() {
      return (pde & Bits.P) != 0 && (pde & Bits.PS) == 0;
    }

    /** The access of this case. */
    public UserAccess access() {
      return new UserAccess(type, VA);
    }

    /** {@code write pde[P RW US PS] pte[-]}. */
    @Override
    public String toString() {
      return type.name().toLowerCase(java.util.Locale.ROOT) + " pde[" + names(pde) + "] pte["
          + (readsPte() ? names(pte) : "not read") + "]";
    }

    private static String names(long flags) {
      String n = Verdict.bitNames(flags & ~RSVD);
      n = n.replace("PS/PAT", "PS");
      if ((flags & RSVD) != 0) {
        n = (n.isEmpty() ? "" : n + " ") + "b51";
      }
      return n.isEmpty() ? "-" : n;
    }
  }

  /**
   * One disagreement no deviation explains.
   *
   * @param c the case
   * @param description what differs, one line per difference, and the walk
   */
  public record Mismatch(Case c, String description) {
    @Override
    public String toString() {
      return c + ": " + description;
    }
  }

  /**
   * The result of a run of the matrix.
   *
   * @param where the host ({@code vmspace.kvm.where})
   * @param cases how many cases ran
   * @param mismatches how many disagreed without a deviation to explain them
   * @param firstMismatches the first of them, in case order (as many as asked)
   * @param kinds the mismatches grouped by the way they differ (e.g. {@code error code: the
   *     model 0xd (PROT|USER|RSVD), the machine 0xc (USER|RSVD)}), with the number of cases, most
   *     frequent first
   * @param deviations the deviations the run knew, each with the number of cases it explained
   *     (0 included: a deviation that no longer happens shows)
   * @param wall the wall time of the whole run
   */
  public record Report(String where, int cases, int mismatches, List<Mismatch> firstMismatches,
      Map<String, Integer> kinds, Map<String, Integer> deviations, Duration wall) {
    /** Copies the lists. */
    public Report {
      firstMismatches = List.copyOf(firstMismatches);
      kinds = Collections.unmodifiableMap(new LinkedHashMap<>(kinds));
      deviations = Collections.unmodifiableMap(new LinkedHashMap<>(deviations));
    }

    /** The cases some deviation explained. */
    public int deviated() {
      return deviations.values().stream().mapToInt(Integer::intValue).sum();
    }

    /** The report as lines: the mismatches listed, the deviations with their counts, the totals. */
    public List<String> lines() {
      List<String> out = new ArrayList<>();
      for (Mismatch m : firstMismatches) {
        out.add("mismatch: " + m);
      }
      if (mismatches > firstMismatches.size()) {
        out.add("... and " + (mismatches - firstMismatches.size()) + " more mismatches");
      }
      kinds.forEach((kind, n) -> out.add("mismatch kind: " + kind + ": " + n + " cases"));
      deviations.forEach((name, n) -> out.add("host deviation " + name + ": " + n + " cases"));
      out.add(String.format("%d cases (of %d combinations) in %.1f s, %.2f ms per case, where %s", cases, UNPRUNED,
          wall.toMillis() / 1000.0, cases == 0 ? 0.0 : wall.toNanos() / 1e6 / cases, where));
      return out;
    }
  }

  /**
   * QEMU's TCG reports a reserved-bit page fault without P. Under nested paging in the emulated
   * SVM machine, QEMU itself walks the nested guest's tables, and its {@code mmu_translate}
   * (target/i386/tcg/sysemu/excp_helper.c, since the 7.1 rewrite; 7.2 here) sets the error code
   * to {@code PG_ERROR_RSVD_MASK} alone where older versions and the SDM (vol. 3A, 4.7: "bit 3
   * of the error code can be set only if bit 0 is also set") have P with it. Under shadow
   * paging KVM's own walker reports P|RSVD, as the model does. Applies exactly where the model
   * faults with P and RSVD, the machine faults with the same code without P, and nothing else
   * (walk, A/D bits, CR2) differs.
   */
  public static final HostDeviation QEMU_TCG_RSVD_WITHOUT_P = new HostDeviation(
      "qemu-tcg-rsvd-fault-without-p",
      "QEMU 7.1+ TCG (mmu_translate, do_fault_rsvd) pushes RSVD without P on a reserved-bit #PF; the SDM sets P with RSVD",
      java.util.Set.of("emulated-svm-npt-on"),
      o -> o.machine().faulted() && o.model().faults()
          && (o.model().errorCode() & (ErrorCode.PF_RSVD | ErrorCode.PF_PROT)) == (ErrorCode.PF_RSVD | ErrorCode.PF_PROT)
          && o.machine().errorCode() == (o.model().errorCode() & ~ErrorCode.PF_PROT)
          && o.differences().size() == 1);

  /**
   * The deviations known so far, each pinned by a test of its own ({@code HostDeviationTest}):
   * {@link #QEMU_TCG_RSVD_WITHOUT_P}.
   */
  public static List<HostDeviation> knownDeviations() {
    return List.of(QEMU_TCG_RSVD_WITHOUT_P);
  }

  /** Every case, pruned, reads first, then writes, then fetches; {@value #CASES} of them. */
  public static List<Case> cases() {
    List<Case> out = new ArrayList<>(CASES);
    for (UserAccess.Type type : UserAccess.Type.values()) {
      for (int pdeIndex = 0; pdeIndex < 256; pdeIndex++) {
        long pde = flags(PDE_BITS, pdeIndex);
        if ((pde & Bits.P) == 0 || (pde & Bits.PS) != 0) {
          out.add(new Case(type, pde, 0));
          continue;
        }
        for (int pteIndex = 0; pteIndex < 128; pteIndex++) {
          out.add(new Case(type, pde, flags(PTE_BITS, pteIndex)));
        }
      }
    }
    return List.copyOf(out);
  }

  private static long flags(List<Long> bits, int index) {
    long f = 0;
    for (int i = 0; i < bits.size(); i++) {
      if ((index & (1 << i)) != 0) {
        f |= bits.get(i);
      }
    }
    return f;
  }

  /**
   * Runs {@code cases} on {@code kit}'s machine and model, with {@code deviations} known.
   *
   * @param kit a kit whose tables have nothing in root slot 1 and whose memory has {@link
   *     #MEMORY_NEEDED} bytes outside the table region for the frames
   * @param listed how many mismatches to keep in the report (all are counted)
   * @throws IllegalArgumentException if the kit's tables or memory cannot take the matrix
   */
  public static Report run(PageTableKit kit, List<Case> cases, List<HostDeviation> deviations, int listed) {
    PageTableBuilder b = kit.tables();
    long page = VA & ~0xFFFL;
    b.map(page, FRAME_4K, PageSize.SIZE_4K, Bits.P | Bits.US);
    if (kit.memory().segment().byteSize() < MEMORY_NEEDED) {
      throw new IllegalArgumentException("the matrix needs " + MEMORY_NEEDED + " bytes of memory");
    }
    long pml4e = b.entryAddress(VA, Level.PML4E);
    long pdpte = b.entryAddress(VA, Level.PDPTE);
    long pdeAt = b.entryAddress(VA, Level.PDE);
    long pteAt = b.entryAddress(VA, Level.PTE);
    long pdpt = b.entry(VA, Level.PML4E) & Bits.ADDRESS_MASK;
    long pd = b.entry(VA, Level.PDPTE) & Bits.ADDRESS_MASK;
    long pt = b.entry(VA, Level.PDE) & Bits.ADDRESS_MASK;
    MemorySegment m = kit.memory().segment();
    String where = PageTableKit.where();
    Map<String, Integer> counts = new LinkedHashMap<>();
    for (HostDeviation d : deviations) {
      counts.put(d.name(), 0);
    }
    List<Mismatch> first = new ArrayList<>();
    Map<String, Integer> kinds = new LinkedHashMap<>();
    int mismatches = 0;
    long t0 = System.nanoTime();
    for (Case c : cases) {
      m.set(ValueLayout.JAVA_LONG, pml4e, pdpt | UPPER);
      m.set(ValueLayout.JAVA_LONG, pdpte, pd | UPPER);
      m.set(ValueLayout.JAVA_LONG, pdeAt, c.pde() | ((c.pde() & Bits.PS) != 0 ? FRAME_2M : pt));
      m.set(ValueLayout.JAVA_LONG, pteAt, c.readsPte() ? c.pte() | FRAME_4K : 0);
      MachineResult r = kit.run(c.access());
      Outcome model = r.model().orElseThrow();
      List<Verdict.Difference> compared = Verdict.compare(r, model);
      if (compared.isEmpty()) {
        continue;
      }
      List<String> diffs = compared.stream().map(Verdict.Difference::text).toList();
      HostDeviation.Observation o = new HostDeviation.Observation(c.access(), r, model, diffs, where);
      HostDeviation explained = deviations.stream().filter(d -> d.explains(o)).findFirst().orElse(null);
      if (explained != null) {
        counts.merge(explained.name(), 1, Integer::sum);
        continue;
      }
      mismatches++;
      kinds.merge(String.join("; ", compared.stream().map(Verdict.Difference::kind).toList()), 1, Integer::sum);
      if (first.size() < listed) {
        first.add(new Mismatch(c, String.join("; ", diffs) + "; machine: " + r.detail() + "; walk " + r.walk()));
      }
    }
    Duration wall = Duration.ofNanos(System.nanoTime() - t0);
    Map<String, Integer> sortedKinds = new LinkedHashMap<>();
    kinds.entrySet().stream()
        .sorted(Map.Entry.<String, Integer>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()))
        .forEach(e -> sortedKinds.put(e.getKey(), e.getValue()));
    return new Report(where, cases.size(), mismatches, first, sortedKinds, counts, wall);
  }
}
