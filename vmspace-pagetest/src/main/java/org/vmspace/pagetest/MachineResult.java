package org.vmspace.pagetest;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.vmspace.api.RunResult;
import org.vmspace.api.Trap;
import org.vmspace.kvm.paging.Outcome;

/**
 * What the machine did on one {@link UserAccess}: how the run ended, the trap, the {@code #PF}
 * error code and CR2, and the entries on the walk of the address as found in memory afterwards
 * (so accessed and dirty bits can be checked). Immutable.
 *
 * <p>The {@link #kind()} never folds a surprise into a fault: {@link Kind#FAULTED} is a page
 * fault at exactly the access's instruction with CR2 the accessed address; {@link
 * Kind#COMPLETED} is the system call that follows the access; anything else (another trap, a
 * fault at the runner's own code, a timeout) is {@link Kind#UNEXPECTED}, with {@link #detail()}
 * saying what happened.
 */
public final class MachineResult {
  /** How the access ended. */
  public enum Kind {
    /** The access completed: the instruction after it ran. */
    COMPLETED,
    /** The access raised {@code #PF} at its own instruction, for its own address. */
    FAULTED,
    /** Anything else: see {@link #detail()}. */
    UNEXPECTED
  }

  private final UserAccess access;
  private final Kind kind;
  private final RunResult runResult;
  private final int trapno;
  private final int errorCode;
  private final long cr2;
  private final long rip;
  private final long value;
  private final List<WalkEntry> walk;
  private final String detail;
  private final Outcome model;

  MachineResult(UserAccess access, Kind kind, RunResult runResult, int trapno, int errorCode, long cr2, long rip,
      long value, List<WalkEntry> walk, String detail, Outcome model) {
    this.access = Objects.requireNonNull(access);
    this.kind = Objects.requireNonNull(kind);
    this.runResult = runResult;
    this.trapno = trapno;
    this.errorCode = errorCode;
    this.cr2 = cr2;
    this.rip = rip;
    this.value = value;
    this.walk = List.copyOf(walk);
    this.detail = Objects.requireNonNull(detail);
    this.model = model;
  }

  /** The access that ran. */
  public UserAccess access() {
    return access;
  }

  /** How it ended. */
  public Kind kind() {
    return kind;
  }

  /** Whether the access completed. */
  public boolean completed() {
    return kind == Kind.COMPLETED;
  }

  /** Whether the access raised {@code #PF} for its own address at its own instruction. */
  public boolean faulted() {
    return kind == Kind.FAULTED;
  }

  /** Whether something other than the access's completion or its own page fault happened. */
  public boolean unexpected() {
    return kind == Kind.UNEXPECTED;
  }

  /** What {@code ctl(RUN)} returned (null if the run itself threw, which the runner rethrows). */
  public RunResult runResult() {
    return runResult;
  }

  /** The trap number ({@link Trap}): {@link Trap#T_PAGEFLT}, {@link Trap#T_FAST_SYSCALL}, ... */
  public int trapno() {
    return trapno;
  }

  /** The {@code #PF} error code ({@code TrapFrame.err()}; see {@link ErrorCode}), 0 unless a fault. */
  public int errorCode() {
    return errorCode;
  }

  /** CR2 ({@code TrapFrame.addr()}): the faulting address, 0 unless a page fault. */
  public long cr2() {
    return cr2;
  }

  /** Where the guest stopped ({@code TrapFrame.rip()}). */
  public long rip() {
    return rip;
  }

  /** For a completed read, the 8 bytes read; otherwise 0. */
  public long value() {
    return value;
  }

  /** The entries on the walk of the address, PML4E first, as in memory after the access. */
  public List<WalkEntry> walk() {
    return walk;
  }

  /**
   * The entry at {@code level} on the walk after the access.
   *
   * @throws IllegalArgumentException if the walk stopped above that level
   */
  public WalkEntry entry(Level level) {
    for (WalkEntry e : walk) {
      if (e.level() == level) {
        return e;
      }
    }
    throw new IllegalArgumentException("the walk of " + access + " stopped above its " + level + ": " + walk);
  }

  /** The leaf (or the last entry) of the walk. */
  public WalkEntry last() {
    return walk.get(walk.size() - 1);
  }

  /** One line on what happened, e.g. {@code T_PAGEFLT err=0x5 (PROT|USER) cr2=0x400000 at rip=...}. */
  public String detail() {
    return detail;
  }

  /**
   * The reference model's verdict on the same access, computed on the same tables just before
   * the run; present when the run came from a {@link PageTableKit}, empty from a bare {@link
   * AccessRunner}.
   */
  public Optional<Outcome> model() {
    return Optional.ofNullable(model);
  }

  /**
   * How the machine differs from the model, one readable line per difference (empty when they
   * agree, or when there is no model): fault or not, error code, CR2, and each entry on the
   * model's walk against the entry found in memory, respecting the bits the architecture leaves
   * open ({@link Outcome.Step#either()}).
   */
  public List<String> differencesFromModel() {
    return model == null ? List.of() : Verdict.differences(this, model);
  }

  MachineResult withModel(Outcome outcome) {
    return new MachineResult(access, kind, runResult, trapno, errorCode, cr2, rip, value, walk, detail, outcome);
  }

  /** {@code read 0x400000: FAULTED T_PAGEFLT err=... walk [...]}. */
  @Override
  public String toString() {
    return access + ": " + kind + " " + detail + " walk " + walk;
  }

  static String trapText(int trapno, int err, long cr2, long rip) {
    String t = Trap.name(trapno);
    if (trapno == Trap.T_PAGEFLT) {
      return t + " err=" + ErrorCode.describe(err) + " cr2=0x" + Long.toHexString(cr2) + " at rip=0x" + Long.toHexString(rip);
    }
    return t + " err=0x" + Long.toHexString(err) + " at rip=0x" + Long.toHexString(rip);
  }
}
