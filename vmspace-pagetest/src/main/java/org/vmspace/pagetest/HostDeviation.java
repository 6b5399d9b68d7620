package org.vmspace.pagetest;

import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Predicate;
import org.vmspace.kvm.paging.Outcome;

/**
 * A known, documented difference between a host and the architecture (as the reference model
 * states it): a name, the reason, the hosts it applies to (values of {@code vmspace.kvm.where})
 * and a predicate that says exactly which disagreements it explains. The {@link AccessMatrix}
 * counts and lists the cases each deviation explains; it never drops a disagreement silently,
 * and a deviation applies only where its hosts say. Immutable (given an immutable predicate).
 *
 * @param name a short name, e.g. {@code tcg-sets-accessed-on-faulting-walk}
 * @param reason why the host differs, and where that is documented
 * @param hosts where it applies: {@code native}, {@code emulated-svm-npt-on}, {@code emulated-svm-npt-off}
 * @param applies true for exactly the disagreements it explains
 */
public record HostDeviation(String name, String reason, Set<String> hosts, Predicate<Observation> applies) {
  /**
   * One disagreement between machine and model.
   *
   * @param access the access
   * @param machine what the machine did
   * @param model what the model says
   * @param differences the differences, as {@link MachineResult#differencesFromModel()} words them
   * @param where the host ({@code vmspace.kvm.where})
   */
  public record Observation(UserAccess access, MachineResult machine, Outcome model, List<String> differences, String where) {
    /** Copies the differences. */
    public Observation {
      differences = List.copyOf(differences);
    }
  }

  /**
   * @throws NullPointerException if any component is null
   * @throws IllegalArgumentException if the name or reason is blank or no host is named
   */
  public HostDeviation {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(applies, "applies");
    hosts = Set.copyOf(hosts);
    if (name.isBlank() || reason.isBlank() || hosts.isEmpty()) {
      throw new IllegalArgumentException("a host deviation needs a name, a reason and at least one host");
    }
  }

  /** Whether this deviation explains {@code o}: its host is one of {@link #hosts()} and the predicate holds. */
  public boolean explains(Observation o) {
    return hosts.contains(o.where()) && applies.test(o);
  }

  /** {@code name (hosts): reason}. */
  @Override
  public String toString() {
    return name + " " + hosts.stream().sorted().toList() + ": " + reason;
  }
}
