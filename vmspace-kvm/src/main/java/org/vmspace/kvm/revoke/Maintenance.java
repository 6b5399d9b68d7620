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
    long[] order = storeOrder(r);
    code.clear();
    long page = -1;
    for (int k = 0; k < n; k++) {
      int i = (int) (order[k] & INDEX_MASK);
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

  /** The low bits of a {@link #storeOrder} key: the store's index. */
  private static final int INDEX_BITS = 24;
  private static final long INDEX_MASK = (1L << INDEX_BITS) - 1;

  /**
   * The stores' indexes in ascending entry address, stores to the same entry in the order they
   * were made (the last one wins): each key is the entry's address over its index, so one sort
   * of primitives does it. Grouping by address lets each table page take one base-register
   * load. Entry addresses are 8-byte aligned guest-physical addresses, so {@code gpa >>> 3}
   * leaves room for the index below 2^42 bytes (4 TiB) of guest memory.
   */
  static long[] storeOrder(Revocation r) {
    int n = r.storeCount();
    if (n > INDEX_MASK) {
      throw new IllegalArgumentException("more than 2^24 stores in one revocation: " + n);
    }
    long[] keys = new long[n];
    for (int i = 0; i < n; i++) {
      long gpa = r.entryGpa(i);
      if ((gpa & 7) != 0 || Long.compareUnsigned(gpa, 1L << (63 - INDEX_BITS + 3)) >= 0) {
        throw new IllegalArgumentException("not a page-table entry address: 0x" + Long.toHexString(gpa));
      }
      keys[i] = (gpa >>> 3) << INDEX_BITS | i;
    }
    Arrays.sort(keys);
    return keys;
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
