package org.vmspace.kvm.revoke;

import java.util.Arrays;
import java.util.concurrent.locks.ReentrantLock;
import org.vmspace.kvm.guest.GuestLayout;
import org.vmspace.kvm.guest.X86Code;
import org.vmspace.kvm.ioctl.Kvm;
import org.vmspace.kvm.ioctl.KvmRegs;
import org.vmspace.kvm.ioctl.KvmRun;
import org.vmspace.kvm.linux.Errnos;
import org.vmspace.kvm.memory.FrameAllocator;
import org.vmspace.kvm.memory.FrameRefs;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.paging.Revocation;
import org.vmspace.kvm.paging.TableMemory;
import org.vmspace.kvm.vcpu.Vcpu;

/**
 * Applies revocations with the context's maintenance vCPU: a vCPU that never runs user code,
 * stays at CPL0 on the maintenance root (kernel image plus a supervisor-only direct map of all
 * guest memory), and executes code generated for each batch of stores:
 *
 * <pre>
 *   movabs $DIRECT_MAP+table_page, %rdi     ; once per page-table page
 *   movq   $0, offset(%rdi)                 ; one per cleared entry
 *   movabs $value, %rax ; mov %rax, offset(%rdi)   ; one pair per rewritten entry
 *   ...
 *   out    %al, $0x13                       ; done
 * </pre>
 *
 * <p>On a shadowing host (PVM, or VMX/SVM without nested paging) each store is an instruction
 * that KVM sees (it write-protects the tables it shadows), so it drops the old translation on
 * every vCPU, running or not, before the store completes. With nested paging the stores are
 * plain memory writes and the hardware TLBs of the other vCPUs must be flushed as well: the
 * flavour's shootdown runs after the stores. The frames are freed only after both. About 1 us
 * per store on the PVM host (emulated CPL0), native speed on VMX/SVM, plus one KVM_RUN per
 * batch of up to about 5000 stores. Thread-safe: one batch at a time.
 *
 * <p>Where the hardware walks the tables (nested paging, {@code
 * ExecutionFlavour.revokesWithHostStores()}) a guest-side store is no more than a memory write,
 * so the stores are made from the host instead, in the order they were asked for, and no
 * maintenance vCPU runs; the shootdown that follows is what makes them take effect everywhere,
 * as it was after guest-side stores. Such revocations run concurrently.
 */
public final class Maintenance {
  /** Bytes reserved at the end of the code buffer for the final out and hlt. */
  private static final int TAIL = 16;

  private final Vcpu vcpu;
  private final GuestMemory memory;
  private final GuestLayout layout;
  private final FrameAllocator frames;
  private final FrameRefs refs;
  private final Runnable shootdown;
  private final TableMemory hostTables;
  private final ReentrantLock lock = new ReentrantLock();
  /** The code of the batch being built, reused under {@link #lock}. */
  private final X86Code code = new X86Code();

  /**
   * @param memory the memory holding the VM's system area from its first byte (the code buffer
   *     is written there)
   * @param frames where freed frames go, or null for a VM whose revocations never free frames
   * @param refs the reference counts of those frames, or null with {@code frames}
   * @param shootdown run after the stores and before any frame is freed, for flavours whose
   *     other vCPUs may still hold the old translations in their TLBs; null where the stores
   *     themselves revoke everywhere (see {@code ExecutionFlavour.needsTlbShootdown()})
   * @param hostTables where to make the stores from the host, or null to make them from the
   *     guest with {@code vcpu}; only for nested paging, and then {@code shootdown} is required
   * @throws IllegalArgumentException for host stores without a shootdown
   */
  public Maintenance(Vcpu vcpu, GuestMemory memory, GuestLayout layout, FrameAllocator frames,
      FrameRefs refs, Runnable shootdown, TableMemory hostTables) {
    if (hostTables != null && shootdown == null) {
      throw new IllegalArgumentException("host-side stores need a TLB shootdown after them");
    }
    this.hostTables = hostTables;
    this.vcpu = vcpu;
    this.memory = memory;
    this.layout = layout;
    this.frames = frames;
    this.refs = refs;
    this.shootdown = shootdown;
  }

  /**
   * Makes every store of {@code r}, then frees its frames and drops its references (freeing the
   * frames whose last reference that was).
   *
   * @throws IllegalStateException if the maintenance vCPU fails; the frames are then not freed
   *     (leaked rather than reused while a translation to them might remain)
   */
  public void apply(Revocation r) {
    if (r.storeCount() > 0 && hostTables != null) {
      for (int i = 0; i < r.storeCount(); i++) {
        hostTables.write(r.entryGpa(i), r.value(i));
      }
      shootdown.run();
    } else if (r.storeCount() > 0) {
      lock.lock();
      try {
        storeAll(r);
        if (shootdown != null) {
          shootdown.run();
        }
      } finally {
        lock.unlock();
      }
    }
    if (r.frameCount() > 0 || r.releaseCount() > 0) {
      if (frames == null) {
        throw new IllegalStateException("this VM's revocations cannot free frames");
      }
      long[] free = java.util.Arrays.copyOf(r.frames(), r.frameCount() + r.releaseCount());
      int n = r.frameCount();
      for (int i = 0; i < r.releaseCount(); i++) {
        if (refs.release(r.release(i))) {
          free[n++] = r.release(i);
        }
      }
      frames.free(free, n);
    }
    for (Runnable action : r.afterwardsActions()) {
      action.run();
    }
  }

  private void storeAll(Revocation r) {
    int n = r.storeCount();
    int[] order = storeOrder(r);
    code.clear();
    long page = -1;
    for (int k = 0; k < n; k++) {
      int i = order[k];
      long gpa = r.entryGpa(i);
      long value = r.value(i);
      if (code.size() > GuestLayout.MAINTENANCE_CODE_SIZE - 64 - TAIL) {
        runBatch(code);
        code.clear();
        page = -1;
      }
      long entryPage = gpa & ~(GuestLayout.PAGE - 1);
      if (entryPage != page) {
        code.movabsRdi(GuestLayout.DIRECT_MAP_BASE + entryPage);
        page = entryPage;
      }
      int offset = (int) (gpa - entryPage);
      if (value == (int) value) {
        code.movqImm32ToDisp32Rdi(offset, (int) value);
      } else {
        code.movabsRax(value).movRaxToDisp32Rdi(offset);
      }
    }
    runBatch(code);
  }

  /** The low bits of a packed {@link #storeOrder} key: the store's index. */
  private static final int INDEX_BITS = 24;
  private static final long INDEX_MASK = (1L << INDEX_BITS) - 1;
  /** Entry addresses below this pack with an index into a positive long. */
  private static final long PACKED_GPA_END = 1L << (63 - INDEX_BITS + 3);

  /**
   * The stores' indexes in ascending entry address, stores to the same entry in the order they
   * were made (the last one wins). Grouping by address lets each table page take one
   * base-register load. Usually one sort of primitives does it, each key the entry's address
   * ({@code gpa >>> 3}: entries are 8-byte aligned) over its index; a revocation of more than
   * 2^24 stores, or one reaching past 4 TiB or off an 8-byte boundary, takes a stable sort of
   * boxed indexes instead.
   */
  static int[] storeOrder(Revocation r) {
    int n = r.storeCount();
    boolean packs = n <= INDEX_MASK + 1;
    for (int i = 0; i < n && packs; i++) {
      long gpa = r.entryGpa(i);
      packs = (gpa & 7) == 0 && Long.compareUnsigned(gpa, PACKED_GPA_END) < 0;
    }
    int[] order = new int[n];
    if (packs) {
      long[] keys = new long[n];
      for (int i = 0; i < n; i++) {
        keys[i] = (r.entryGpa(i) >>> 3) << INDEX_BITS | i;
      }
      Arrays.sort(keys);
      for (int k = 0; k < n; k++) {
        order[k] = (int) (keys[k] & INDEX_MASK);
      }
      return order;
    }
    Integer[] boxed = new Integer[n];
    for (int i = 0; i < n; i++) {
      boxed[i] = i;
    }
    Arrays.sort(boxed, (a, b) -> Long.compareUnsigned(r.entryGpa(a), r.entryGpa(b))); // stable
    for (int k = 0; k < n; k++) {
      order[k] = boxed[k];
    }
    return order;
  }

  private void runBatch(X86Code body) {
    int doneOffset = body.size();
    body.outAlImm8(GuestLayout.PORT_MAINTENANCE).hlt();
    java.lang.foreign.MemorySegment.copy(
        java.lang.foreign.MemorySegment.ofArray(body.buffer()), 0,
        memory.host(), layout.maintenanceCode(), body.size());
    long codeVa = GuestLayout.kernelVa(layout.maintenanceCode());
    KvmRun run = vcpu.kvmRun();
    run.reg(KvmRegs.RIP, codeVa);
    run.reg(KvmRegs.RSP, layout.kernelStackTop(vcpu.id()));
    run.reg(KvmRegs.RFLAGS, 0x2);
    run.dirtyRegs(Kvm.KVM_SYNC_X86_REGS);
    while (true) {
      int rc = vcpu.enter();
      if (rc == -Errnos.EINTR) {
        continue; // a signal for this thread: KVM resumes the stub where it stopped
      }
      if (rc < 0) {
        vcpu.markDead();
        throw new IllegalStateException("maintenance KVM_RUN failed: " + Errnos.name(-rc));
      }
      break;
    }
    // The out's own address (standard KVM) or the one after it (PVM): both are this code's, run
    // at CPL0 where no guest code runs, and the probe uses this before any flavour is known.
    long expected = codeVa + doneOffset;
    if (run.exitReason() != Kvm.KVM_EXIT_IO
        || run.ioPort() != GuestLayout.PORT_MAINTENANCE
        || !(run.reg(KvmRegs.RIP) == expected || run.reg(KvmRegs.RIP) == expected + 2)) {
      vcpu.markDead();
      throw new IllegalStateException(
          "maintenance vCPU stopped unexpectedly: exit " + Kvm.exitName(run.exitReason())
              + " port 0x" + Integer.toHexString(run.ioPort()) + " rip 0x"
              + Long.toHexString(run.reg(KvmRegs.RIP)) + ", expected 0x" + Long.toHexString(expected));
    }
  }
}
