package org.vmspace.kvm.vm;

import static org.vmspace.kvm.vm.Vmspace.VM_MAX;
import static org.vmspace.kvm.vm.Vmspace.PAGE;
import static org.vmspace.kvm.vm.Vmspace.PAGE_MASK;

import java.lang.foreign.MemorySegment;
import org.vmspace.kvm.paging.Access;
import org.vmspace.kvm.paging.PageWalker;
import org.vmspace.kvm.vm.Vmspace.Fault;
import org.vmspace.kvm.vm.Vmspace.Vpage;

/**
 * {@code pread} and {@code pwrite} of one address space: copies through its translations with
 * the mappings' permissions, resolving faults as the guest's own access would.
 */
final class MemoryCopy {
  private final Vmspace vm;

  MemoryCopy(Vmspace vm) {
    this.vm = vm;
  }

  // ---------------------------------------------------------------- pread / pwrite

  /**
   * Copies guest memory at {@code addr} into {@code dst}, stopping at the first page the
   * mapping does not let the guest read.
   *
   * @return the number of bytes copied
   */
  long pread(MemorySegment dst, long len, long addr) {
    return copy(dst, len, addr, false);
  }

  /**
   * Copies {@code src} into guest memory at {@code addr}, stopping at the first page the
   * mapping does not let the guest write.
   *
   * @return the number of bytes copied
   */
  long pwrite(MemorySegment src, long len, long addr) {
    return copy(src, len, addr, true);
  }

  long copy(MemorySegment buffer, long len, long addr, boolean write) {
    Access access = write ? Access.WRITE : Access.READ;
    long done = 0;
    vm.lock.lock();
    try {
      vm.checkAlive();
      Vpage v = vm.vpage;
      if (v != null) {
        return vm.virtualTables.copyThroughCallerTables(v, buffer, len, addr, write);
      }
      while (done < len) {
        long va = addr + done;
        if (Long.compareUnsigned(va, VM_MAX) >= 0 || va < 0) {
          break;
        }
        long chunk = Math.min(len - done, PAGE - (va & PAGE_MASK));
        PageWalker.Translation t = vm.tables.lookup(va);
        if (!t.permits(access) || !entryPermits(va, access)) {
          VmEntry e = vm.map.find(va);
          if (!write && e != null && e.object == null && e.prot.bits() != 0 && !t.isPresent()) {
            // An untouched anonymous page reads as zeros: no need to allocate it.
            buffer.asSlice(done, chunk).fill((byte) 0);
            done += chunk;
            continue;
          }
          if (vm.faults.resolveLocked(va & ~PAGE_MASK, access) != Fault.RESOLVED) {
            break;
          }
          t = vm.tables.lookup(va);
          if (!t.permits(access)) {
            break;
          }
        }
        MemorySegment memory = vm.space.memory().host();
        long offset = t.physical(va);
        if (Long.compareUnsigned(offset, memory.byteSize()) >= 0) {
          memory = fileSlotAt(va, offset);
          offset = 0;
          if (memory == null) {
            break;
          }
        }
        transfer(buffer, done, memory, offset, chunk, write);
        done += chunk;
      }
      return done;
    } finally {
      vm.lock.unlock();
    }
  }

  /** One chunk of a pread (memory to buffer) or pwrite (buffer to memory). */
  static void transfer(MemorySegment buffer, long bufferOffset, MemorySegment memory, long memoryOffset, long len,
      boolean write) {
    if (write) {
      MemorySegment.copy(buffer, bufferOffset, memory, memoryOffset, len);
    } else {
      MemorySegment.copy(memory, memoryOffset, buffer, bufferOffset, len);
    }
  }

  /**
   * The host memory from guest-physical {@code pa} on, when {@code pa} is past guest memory: the
   * slot of the shared file mapping at {@code va}, whose frame it is; null if it is not one
   * (not expected: the tables point only into guest memory and file slots).
   */
  MemorySegment fileSlotAt(long va, long pa) {
    VmEntry e = vm.map.find(va);
    return e != null && e.object instanceof FileSlotObject file ? file.hostAt(pa) : null;
  }

  /**
   * A byte of user memory as the guest would fetch it, or -1 if not mapped (for reporting the
   * address of a guest's own I/O instruction).
   */
  int readUserByte(long va) {
    byte[] b = new byte[1];
    return copy(MemorySegment.ofArray(b), 1, va, false) == 1 ? Byte.toUnsignedInt(b[0]) : -1;
  }

  boolean entryPermits(long va, Access access) {
    VmEntry e = vm.map.find(va);
    return e != null && Faults.permits(e.prot, access);
  }
}
