package org.vmspace.pagetest;

import java.util.List;
import org.assertj.core.api.AbstractAssert;
import org.vmspace.kvm.paging.Outcome;

/**
 * AssertJ assertions on a {@link MachineResult}. Every failure message says what the machine
 * did (trap, error code, CR2, RIP) and the walk as found in memory afterwards.
 *
 * <pre>{@code
 * assertThat(kit.run(write(va))).completes().setAccessed(Level.PDE).setDirty().agreesWithModel();
 * assertThat(kit.run(read(va))).faultsWith(PF_USER | PF_PROT).hasCr2(va);
 * }</pre>
 */
public final class AccessAssert extends AbstractAssert<AccessAssert, MachineResult> {
  private AccessAssert(MachineResult actual) {
    super(actual, AccessAssert.class);
  }

  /** The entry point: {@code assertThat(kit.run(read(va)))}. */
  public static AccessAssert assertThat(MachineResult actual) {
    return new AccessAssert(actual);
  }

  /** The access completed (the instruction after it ran). */
  public AccessAssert completes() {
    isNotNull();
    if (!actual.completed()) {
      failWithMessage("Expecting %s to complete, but: %s%n  walk: %s", actual.access(), actual.detail(), actual.walk());
    }
    return this;
  }

  /**
   * The access raised {@code #PF} at its own instruction for its own address, with exactly this
   * error code (see {@link ErrorCode}).
   */
  public AccessAssert faultsWith(int errorCode) {
    isNotNull();
    if (!actual.faulted()) {
      failWithMessage("Expecting %s to fault with %s, but: %s%n  walk: %s", actual.access(),
          ErrorCode.describe(errorCode), actual.detail(), actual.walk());
    }
    if (actual.errorCode() != errorCode) {
      failWithMessage("Expecting %s to fault with %s, but the error code was %s%n  walk: %s", actual.access(),
          ErrorCode.describe(errorCode), ErrorCode.describe(actual.errorCode()), actual.walk());
    }
    return this;
  }

  /** The access faulted with CR2 {@code cr2}. */
  public AccessAssert hasCr2(long cr2) {
    isNotNull();
    if (!actual.faulted() || actual.cr2() != cr2) {
      failWithMessage("Expecting %s to fault with CR2 0x%x, but: %s", actual.access(), cr2, actual.detail());
    }
    return this;
  }

  /** The entry at {@code level} on the walk has its accessed bit set after the access. */
  public AccessAssert setAccessed(Level level) {
    isNotNull();
    WalkEntry e = onWalk(level);
    if ((e.value() & Bits.A) == 0) {
      failWithMessage("Expecting %s to have set the accessed bit of its %s, but it is %s (%s)%n  walk: %s",
          actual.access(), level, e, actual.detail(), actual.walk());
    }
    return this;
  }

  /** The leaf on the walk has its dirty bit set after the access. */
  public AccessAssert setDirty() {
    isNotNull();
    WalkEntry leaf = actual.last();
    if (!leaf.leaf() || !leaf.present()) {
      failWithMessage("Expecting %s to have set the dirty bit of its leaf, but the walk ends at %s%n  walk: %s",
          actual.access(), leaf, actual.walk());
    }
    if ((leaf.value() & Bits.D) == 0) {
      failWithMessage("Expecting %s to have set the dirty bit of its leaf, but it is %s (%s)", actual.access(), leaf,
          actual.detail());
    }
    return this;
  }

  /**
   * The machine did what the reference model says: fault or not, error code, CR2, and every
   * entry on the model's walk (bits the architecture leaves open excepted). Needs a result from
   * {@link PageTableKit#run}.
   */
  public AccessAssert agreesWithModel() {
    isNotNull();
    if (actual.model().isEmpty()) {
      failWithMessage("Expecting a result that carries the model's verdict (from PageTableKit.run), but %s has none",
          actual.access());
    }
    List<String> diffs = actual.differencesFromModel();
    if (!diffs.isEmpty()) {
      Outcome o = actual.model().get();
      failWithMessage("Expecting %s to agree with the model, but:%n  %s%n  machine: %s%n  model: %s%n  walk: %s",
          actual.access(), String.join("\n  ", diffs), actual.detail(),
          o.faults() ? "faults " + ErrorCode.describe(o.errorCode()) : "completes", actual.walk());
    }
    return this;
  }

  /**
   * As {@link #agreesWithModel()}, except that a disagreement one of {@code deviations}
   * explains on this host ({@link PageTableKit#where()}) passes: for tests that must hold on a
   * host with a known, documented deviation (see {@link AccessMatrix#knownDeviations()}).
   */
  public AccessAssert agreesWithModelExceptFor(HostDeviation... deviations) {
    isNotNull();
    List<String> diffs = actual.differencesFromModel();
    if (actual.model().isPresent() && !diffs.isEmpty()) {
      HostDeviation.Observation o = new HostDeviation.Observation(actual.access(), actual, actual.model().get(), diffs,
          PageTableKit.where());
      for (HostDeviation d : deviations) {
        if (d.explains(o)) {
          return this;
        }
      }
    }
    return agreesWithModel();
  }

  private WalkEntry onWalk(Level level) {
    for (WalkEntry e : actual.walk()) {
      if (e.level() == level) {
        return e;
      }
    }
    failWithMessage("Expecting %s's walk to reach its %s, but it is %s", actual.access(), level, actual.walk());
    throw new AssertionError("unreachable");
  }
}
