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
  private final ReentrantLock lock = new ReentrantLock();

  /**
   * @param memory the memory holding the VM's system area from its first byte (the code buffer
   *     is written there)
   * @param frames where freed frames go, or null for a VM whose revocations never free frames
   * @param refs the reference counts of those frames, or null with {@code frames}
   * @param shootdown run after the stores and before any frame is freed, for flavours whose
   *     other vCPUs may still hold the old translations in their TLBs; null where the stores
   *     themselves revoke everywhere (see {@code ExecutionFlavour.needsTlbShootdown()})
   */
  public Maintenance(Vcpu vcpu, GuestMemory memory, GuestLayout layout, FrameAllocator frames,
      FrameRefs refs, Runnable shootdown) {
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
    if (r.storeCount() > 0) {
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
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    // Group the stores by page so each page needs one base-register load.
    Arrays.sort(order, (a, b) -> Long.compareUnsigned(r.entryGpa(a), r.entryGpa(b)));
    X86Code code = new X86Code();
    long page = -1;
    for (int k = 0; k < n; k++) {
      int i = order[k];
      long gpa = r.entryGpa(i);
      long value = r.value(i);
      if (code.size() > GuestLayout.MAINTENANCE_CODE_SIZE - 64 - TAIL) {
        runBatch(code);
        code = new X86Code();
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

  private void runBatch(X86Code body) {
    int doneOffset = body.size();
    body.outAlImm8(GuestLayout.PORT_MAINTENANCE).hlt();
    byte[] bytes = body.toByteArray();
    java.lang.foreign.MemorySegment.copy(
        java.lang.foreign.MemorySegment.ofArray(bytes), 0,
        memory.host(), layout.maintenanceCode(), bytes.length);
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
