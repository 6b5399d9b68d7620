package org.vmspace.kvm.service;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import org.vmspace.api.ExitStatistics;
import org.vmspace.kvm.vm.ExitCounters;
import org.vmspace.kvm.vm.Vmspace;

/**
 * The context-wide exit counts: the counters of the live vmspaces plus the sum of those of the
 * destroyed ones, folded in at destroy. A snapshot and a fold hold the same lock, so a vmspace
 * being destroyed is counted exactly once (never both live and retired, never neither); the
 * counting itself takes no lock. Thread-safe.
 */
final class ExitLedger {
  private final ExitCounters retired = new ExitCounters();
  private final Set<ExitCounters> live = Collections.newSetFromMap(new IdentityHashMap<>());

  /** Starts counting a new vmspace in the totals (before it can run or be destroyed). */
  synchronized void track(Vmspace vs) {
    live.add(vs.counters());
  }

  /** Folds a destroyed vmspace's counts into the retired sum (after its teardown's revocation). */
  synchronized void retire(Vmspace vs) {
    if (live.remove(vs.counters())) {
      retired.add(vs.counters());
    }
  }

  /** Every vmspace's counts, live and destroyed. */
  synchronized ExitStatistics total() {
    ExitStatistics sum = retired.snapshot();
    for (ExitCounters c : live) {
      sum = sum.plus(c.snapshot());
    }
    return sum;
  }
}
