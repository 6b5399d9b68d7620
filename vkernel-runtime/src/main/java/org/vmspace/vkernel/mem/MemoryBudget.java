package org.vmspace.vkernel.mem;

import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The memory all of a kernel's address spaces may commit together: Linux's {@code Committed_AS}
 * against a {@code CommitLimit} (strict accounting, {@code vm.overcommit_memory=2}). What is
 * committed is private writable memory (anonymous, copy-on-write file mappings, the heap, the
 * stacks): memory the guest may write without the vkernel being able to take it back. Shared
 * mappings and read-only ones are not counted; they are backed by files or by objects whose size
 * is fixed when they are made.
 *
 * <p>Strict rather than heuristic accounting is what makes a guest that maps memory until mmap
 * fails see ENOMEM after {@code limit / size} calls, instead of mapping the whole 128 TiB user
 * address space (tens of thousands of mappings) and dying at the first page the host cannot
 * back. Thread-safe.
 */
public final class MemoryBudget {
  private final long limit;
  private long committed;

  /**
   * @param limit the most bytes that may be committed at once (unsigned; -1 for no limit)
   */
  public MemoryBudget(long limit) {
    this.limit = limit;
  }

  /** A budget without a limit (for address spaces nothing else shares, as in tests). */
  public static MemoryBudget unlimited() {
    return new MemoryBudget(-1);
  }

  /** The limit (unsigned; -1 for none). */
  public long limit() {
    return limit;
  }

  /** The bytes committed now. */
  public synchronized long committed() {
    return committed;
  }

  /**
   * Commits {@code bytes} more if they fit; a negative amount gives some back and always
   * succeeds.
   *
   * @throws SyscallError ENOMEM if the committed total would pass the limit
   */
  public synchronized void reserve(long bytes) {
    long after = committed + bytes;
    if (bytes > 0 && limit != -1 && (after < committed || Long.compareUnsigned(after, limit) > 0)) {
      throw new SyscallError(LinuxErrno.ENOMEM, "the vkernel's memory limit (--memory) of " + limit
          + " bytes is committed: " + committed + " in use, " + bytes + " more asked");
    }
    committed = after;
  }

  /** Corrects the committed total by {@code bytes} (positive or negative) without a check. */
  public synchronized void adjust(long bytes) {
    committed += bytes;
  }
}
