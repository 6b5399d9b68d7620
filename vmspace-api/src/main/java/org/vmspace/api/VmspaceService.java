package org.vmspace.api;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A vkernel context: the owner of a set of vmspaces named by {@link VmspaceId}s, with
 * DragonFly's eight vmspace calls. Obtain one from {@link Vmspaces#open()}.
 *
 * <p>Each call checks its arguments in the contract's order and throws a {@link
 * VmspaceException} carrying the first {@link Errno} that applies; the order is listed on each
 * method. Every call that names an id holds an active reference on the vmspace for its duration,
 * so {@link #destroy} meanwhile fails with {@link Errno#EBUSY}.
 *
 * <p><b>Sizes, addresses and offsets</b> are unsigned 64-bit values, as in C: a length of
 * {@code -4096} is 2^64 - 4096, an offset of {@code -4096} lies past the end of any backing. No
 * call lets such a value wrap; each reaches the errno of the check that rejects it.
 *
 * <p><b>Nulls</b> never cause a {@link NullPointerException}; each has a meaning or an errno,
 * checked at its place in the contract's order: a null {@link VmspaceId} is {@link
 * VmspaceId#NULL} ({@link Errno#EINVAL} for {@code create} and {@code fork}'s child, {@link
 * Errno#ENOENT} for every lookup); a null frame, vframe, buffer or path stands for C's NULL
 * pointer and is {@link Errno#EFAULT}; a null backing is no backing; a null timeout is no
 * limit; any other null ({@link #interrupt}'s thread, {@link #copyVectorState}'s frames) is
 * {@link Errno#EINVAL}.
 *
 * <p>All methods are thread-safe. A context is shared by {@link #inherit()} (a fork of the
 * vkernel process) and released by {@link #close()}; the last close destroys every vmspace.
 * Calls on a closed handle fail with {@link IllegalStateException}.
 */
public interface VmspaceService extends AutoCloseable {
  /** The only {@code ctl} command: run the guest. */
  int VMSPACE_CTL_RUN = 1;

  /** The end of the user address range, exclusive: {@code 0x00007FFFFFE00000}. */
  long VM_MAX_USER_ADDRESS = 0x0000_7FFF_FFE0_0000L;

  /** The page size. */
  long PAGE_SIZE = 4096;

  /**
   * Creates an empty address space over {@code [0, VM_MAX_USER_ADDRESS)}.
   *
   * @param type must be 0
   * @param data must be 0
   * @throws VmspaceException {@link Errno#EOPNOTSUPP} the backend is disabled; {@link
   *     Errno#EINVAL} id is {@link VmspaceId#NULL}, or type or data is not 0; {@link
   *     Errno#EEXIST} the id is in use
   */
  void create(VmspaceId id, int type, long data);

  /** {@link #create(VmspaceId, int, long)} with type and data 0. */
  default void create(VmspaceId id) {
    create(id, 0, 0);
  }

  /**
   * Removes the vmspace and tears down its mappings, page tables and memory. The memory is
   * released once no reference of any kind remains; no guest can use it afterwards.
   *
   * @throws VmspaceException {@link Errno#ENOENT} no such vmspace; {@link Errno#EBUSY} another
   *     active reference exists (a running thread, a concurrent call) — the vmspace is left as
   *     it was
   */
  void destroy(VmspaceId id);

  /**
   * DragonFly's {@code vmspace_ctl}: with {@link #VMSPACE_CTL_RUN}, runs the guest as {@link
   * #run(VmspaceId, TrapFrame, VextFrame, Duration)} does, without a timeout.
   *
   * @throws VmspaceException {@link Errno#ENOENT} no such vmspace (checked before the command);
   *     {@link Errno#EOPNOTSUPP} the command is not RUN; {@link Errno#EFAULT} a frame is missing;
   *     {@link Errno#EOPNOTSUPP} no execution backend on this machine
   */
  RunResult ctl(VmspaceId id, int cmd, TrapFrame frame, VextFrame vframe);

  /** {@code ctl(id, VMSPACE_CTL_RUN, frame, vframe)} without a timeout. */
  default RunResult run(VmspaceId id, TrapFrame frame, VextFrame vframe) {
    return ctl(id, VMSPACE_CTL_RUN, frame, vframe);
  }

  /**
   * Runs the guest on the calling thread: swaps in the registers of {@code frame} and the fs/gs
   * bases of {@code vframe}, runs until the guest makes a system call, traps, faults in a way
   * the service cannot resolve, is {@linkplain #interrupt(Thread) interrupted} or the timeout
   * expires, then writes the guest's registers back into {@code frame} and returns why.
   *
   * <p>On entry the frame is sanitized by coercion, never rejected: CS and SS become the user
   * selectors, RFLAGS is masked to {@code 0x274DD5} with IF and bit 1 set. A non-canonical RIP
   * or RSP does not enter the guest: the run returns at once with {@link Trap#T_PROTFLT}.
   *
   * <p>On return {@link TrapFrame#trapno()} says why (see {@link Trap}); a system call has
   * {@code trapno} {@link Trap#T_FAST_SYSCALL}, the number in {@code rax}, the arguments in
   * {@code rdi rsi rdx rcx r8 r9} ({@code rcx} holds the guest's {@code r10}), {@code err} 2 and
   * {@code rip} after the instruction, so the next run returns to the guest with the caller's
   * {@code rax}. Demand-zero and copy-on-write faults on valid mappings are resolved inside the
   * service and never reported.
   *
   * @param timeout how long the guest may run, or {@code null} for no limit (a timeout over
   *     2^62 ns, about 146 years, is no limit too); on expiry the run returns {@link
   *     RunResult#TIMEOUT} with trapno 0 and the guest resumes where it stopped on the next run
   * @throws VmspaceException {@link Errno#ENOENT} no such vmspace; {@link Errno#EFAULT} a frame
   *     is missing; {@link Errno#EOPNOTSUPP} no execution backend on this machine; {@link
   *     Errno#EINVAL} a negative timeout; {@link Errno#EAGAIN} every execution context (vCPU)
   *     is in use and none became free
   */
  RunResult run(VmspaceId id, TrapFrame frame, VextFrame vframe, Duration timeout);

  /**
   * Stops the run of {@code runner}: its current {@code ctl(RUN)}, or if it is not running
   * now, its next one, returns {@link RunResult#INTERRUPTED} with trapno 0. Callable from any
   * thread; interrupts do not accumulate (several before one run stop that one run).
   *
   * @param runner the thread that runs (or will run) the guest
   * @throws VmspaceException {@link Errno#EINVAL} runner is null
   */
  void interrupt(Thread runner);

  /**
   * Maps memory into the vmspace like mmap(2), and returns the address.
   *
   * <p>Without {@link MapFlags#MAP_FIXED}, {@code addr} is a hint and the mapping goes to the
   * lowest free range at or above it (or anywhere if none is). {@link MapFlags#MAP_FIXED}
   * replaces what was mapped there; {@link MapFlags#MAP_TRYFIXED} fails with {@link
   * Errno#ENOMEM} instead of replacing.
   *
   * @param backing {@code null} with {@link MapFlags#MAP_ANON}, else a {@link MemoryObject} or
   *     {@link HostFile} of this service
   * @throws VmspaceException in this order: {@link Errno#ENOENT} no such vmspace; {@link
   *     Errno#EINVAL} anonymous with a backing or a non-zero offset, or unknown flags, or neither
   *     or both of shared and private; {@link Errno#EINVAL} len 0; {@link Errno#EINVAL} {@link
   *     MapFlags#MAP_VPAGETABLE} without read and write; {@link Errno#EINVAL} the size rounded to
   *     pages wraps; {@link Errno#EINVAL} a fixed address misaligned to the offset, wrapping or
   *     ending past {@link #VM_MAX_USER_ADDRESS}; {@link Errno#EBADF} a closed or foreign
   *     backing, or none without {@link MapFlags#MAP_ANON}; {@link Errno#EACCES} the protection
   *     exceeds the backing's access; {@link Errno#ENOMEM} no room or over the memory limit
   */
  long mmap(VmspaceId id, long addr, long len, int prot, int flags, Backing backing, long offset);

  /**
   * Removes the whole pages of {@code [trunc_page(addr), round_page(addr + len))}. After it
   * returns no guest can reach the memory through them, on any thread.
   *
   * @throws VmspaceException in this order: {@link Errno#ENOENT}; {@link Errno#EINVAL} the range
   *     wraps; (a rounded size of 0 returns normally); {@link Errno#EINVAL} the end is past
   *     {@link #VM_MAX_USER_ADDRESS}; {@link Errno#EINVAL} the range is not entirely mapped
   */
  void munmap(VmspaceId id, long addr, long len);

  /**
   * madvise(2) and DragonFly's controls on {@code [trunc_page(addr), round_page(addr + len))};
   * holes in the range are ignored. See {@link Madvise} for the behaviours.
   *
   * @throws VmspaceException in this order: {@link Errno#ENOENT}; {@link Errno#EINVAL} behav
   *     below 0 or above {@link Madvise#MADV_CONTROL_END}; {@link Errno#EINVAL} the range wraps;
   *     {@link Errno#EINVAL} the end is past {@link #VM_MAX_USER_ADDRESS}; {@link Errno#EINVAL}
   *     {@link Madvise#MADV_SETMAP} on a range that is not {@link MapFlags#MAP_VPAGETABLE}
   */
  void mcontrol(VmspaceId id, long addr, long len, int behav, long value);

  /**
   * Copies {@code len} bytes of the vmspace's memory at {@code addr} into {@code dst}, with the
   * mappings' permissions (read access needed). Stops at the first page that is not readable
   * and returns the count so far (0 if the first byte is not readable): a page fault the caller
   * must resolve.
   *
   * @param flags must be 0
   * @throws VmspaceException in this order: {@link Errno#ENOENT}; {@link Errno#EINVAL} bad flags
   *     or negative len; {@link Errno#EFAULT} {@code dst} is smaller than len or read-only
   */
  long pread(VmspaceId id, MemorySegment dst, long len, int flags, long addr);

  /**
   * Copies {@code len} bytes from {@code src} into the vmspace's memory at {@code addr}, with
   * the mappings' permissions (write access needed; copy-on-write pages are copied). Stops at
   * the first page that is not writable and returns the count so far.
   *
   * @param flags must be 0
   * @throws VmspaceException in this order: {@link Errno#ENOENT}; {@link Errno#EINVAL} bad flags
   *     or negative len; {@link Errno#EFAULT} {@code src} is smaller than len
   */
  long pwrite(VmspaceId id, MemorySegment src, long len, int flags, long addr);

  /**
   * Changes the protection of the whole pages of {@code [addr, round_page(addr + len))}, like
   * mprotect(2). An extension of this project (DragonFly's vkernel had the host's mprotect):
   * a virtual kernel needs it to emulate mprotect(2) without losing the pages' contents.
   * Downgrades take effect on every vCPU before the call returns.
   *
   * @throws VmspaceException in this order: {@link Errno#ENOENT}; {@link Errno#EINVAL} addr not
   *     page-aligned, the range wraps, or prot has unknown bits; {@link Errno#ENOMEM} the end is
   *     past {@link #VM_MAX_USER_ADDRESS} or the range is not entirely mapped; {@link
   *     Errno#EINVAL} a {@link MapFlags#MAP_VPAGETABLE} range (its tables say it); {@link
   *     Errno#EACCES} write access to a shared mapping of a read-only backing
   */
  void mprotect(VmspaceId id, long addr, long len, int prot);

  /**
   * Creates {@code child} as a copy of {@code parent}: the same mappings, shared ones sharing
   * their memory, private ones copied, like fork(2). When private pages are copied (at the fork
   * or at either side's first write) is the implementation's choice: the KVM backend copies the
   * pages the parent wrote at once, up to a budget, and the rest on first write. An extension of
   * this project: DragonFly's vkernel did this in its own page tables. Afterwards parent and
   * child are independent vmspaces.
   *
   * @throws VmspaceException in this order: {@link Errno#ENOENT} no such parent; {@link
   *     Errno#EINVAL} child is {@link VmspaceId#NULL}; {@link Errno#EEXIST} child is in use;
   *     {@link Errno#EINVAL} the parent runs on its own {@link MapFlags#MAP_VPAGETABLE} tables;
   *     {@link Errno#ENOMEM} no memory for the child's tables
   */
  void fork(VmspaceId parent, VmspaceId child);

  /**
   * Gives the guest thread that runs with {@code to} a copy of the x87/SSE/AVX register state of
   * the guest thread that runs with {@code from}, as fork(2) gives the child the parent's
   * registers. DragonFly's frames do not carry that state (the service keeps it per {@link
   * VextFrame}, see {@link #run(VmspaceId, TrapFrame, VextFrame, Duration)}), so a virtual
   * kernel needs this to fork a thread faithfully. An extension of this project. {@code to}'s
   * own vector state is replaced; its fs and gs bases are not touched.
   *
   * @throws VmspaceException {@link Errno#EINVAL} a frame is null or both are the same object;
   *     {@link Errno#EBUSY} either frame is being run right now
   */
  void copyVectorState(VextFrame from, VextFrame to);

  /**
   * Creates a zero-filled {@link MemoryObject} of {@code size} bytes (rounded up to pages).
   *
   * @throws VmspaceException {@link Errno#EINVAL} size is not positive (as a Java long); {@link
   *     Errno#ENOMEM} over the memory limit (any size up to {@code Long.MAX_VALUE} is rounded
   *     without wrapping)
   */
  MemoryObject createMemoryObject(long size);

  /**
   * Opens a host file for mapping.
   *
   * @param writable open read-write (needed for writable shared mappings)
   * @throws VmspaceException {@link Errno#ENOENT}, {@link Errno#EACCES} and the like from
   *     opening the file, {@link Errno#EINVAL} if it is not a regular file
   */
  HostFile openFile(Path path, boolean writable);

  /**
   * A new handle on the same context, as a fork of the vkernel process: it sees the same
   * vmspaces and adds one reference to the context.
   */
  VmspaceService inherit();

  /**
   * Drops this handle's reference to the context; idempotent. The last close destroys every
   * vmspace (DragonFly's {@code vkernel_exit}) and releases the backend's resources.
   */
  @Override
  void close();

  /** What the backend serving this context is, as probed. */
  BackendInfo backendInfo();

  /**
   * The exits out of guest mode of one vmspace since it was created (a fork's child starts
   * from zero), by kind, with the time spent in guest mode and in {@code ctl(RUN)}: see {@link
   * ExitStatistics} for what each count means. The counts are kept as long as the vmspace
   * exists; after {@link #destroy} they are only in {@link #exitStatistics()}.
   *
   * <p>The default, for backends that keep no such counts, throws {@link Errno#EOPNOTSUPP}.
   *
   * @throws VmspaceException {@link Errno#ENOENT} no such vmspace; {@link Errno#EOPNOTSUPP} the
   *     backend keeps no exit statistics
   */
  default ExitStatistics exitStatistics(VmspaceId id) {
    throw new VmspaceException(Errno.EOPNOTSUPP, "vmspace_exit_statistics", id,
        "this backend keeps no exit statistics");
  }

  /**
   * The exits of every vmspace of this context since it was opened, destroyed ones included,
   * shared by every handle {@link #inherit()} made: the sum of the per-vmspace counts (see
   * {@link #exitStatistics(VmspaceId)}) of all the vmspaces there ever were.
   *
   * <p>The default, for backends that keep no such counts, throws {@link Errno#EOPNOTSUPP}.
   *
   * @throws VmspaceException {@link Errno#EOPNOTSUPP} the backend keeps no exit statistics
   */
  default ExitStatistics exitStatistics() {
    throw new VmspaceException(Errno.EOPNOTSUPP, "vmspace_exit_statistics", null,
        "this backend keeps no exit statistics");
  }
}
