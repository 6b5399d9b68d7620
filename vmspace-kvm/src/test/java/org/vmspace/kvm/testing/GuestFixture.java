package org.vmspace.kvm.testing;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.api.MapFlags;
import org.vmspace.api.Prot;
import org.vmspace.api.RunResult;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceService;

/**
 * A service with one or more vmspaces, each holding the test program at 0x400000 and a 64 KiB
 * stack ending at {@link #STACK_TOP}. Close it after the test.
 */
public final class GuestFixture implements AutoCloseable {
  public static final long STACK_TOP = 0x7000_0000L;
  public static final long STACK_SIZE = 0x10000;
  public static final GuestProgram PROGRAM = GuestProgram.load("guests");

  public final VmspaceService vms;

  public GuestFixture() {
    this(KvmTests.open());
  }

  public GuestFixture(VmspaceService vms) {
    this.vms = vms;
  }

  /** Creates vmspace {@code id} with the program and a stack. */
  public VmspaceId space(long id) {
    VmspaceId v = VmspaceId.of(id);
    vms.create(v);
    PROGRAM.loadInto(vms, v);
    vms.mmap(v, STACK_TOP - STACK_SIZE, STACK_SIZE, Prot.PROT_READ | Prot.PROT_WRITE,
        MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON | MapFlags.MAP_FIXED, null, 0);
    return v;
  }

  /** A frame that starts at {@code symbol} with the stack pointer at {@link #STACK_TOP}. */
  public static TrapFrame at(String symbol) {
    return new TrapFrame().rip(PROGRAM.symbol(symbol)).rsp(STACK_TOP).rflags(0x202);
  }

  /** The address of a program symbol. */
  public static long sym(String symbol) {
    return PROGRAM.symbol(symbol);
  }

  /** Maps anonymous private memory at a fixed address. */
  public void anon(VmspaceId id, long addr, long len, int prot) {
    vms.mmap(id, addr, len, prot, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON | MapFlags.MAP_FIXED, null, 0);
  }

  /** Writes one quad into guest memory (the page must be writable). */
  public void poke(VmspaceId id, long addr, long value) {
    MemorySegment buf = MemorySegment.ofArray(new long[] {value});
    if (vms.pwrite(id, buf, 8, 0, addr) != 8) {
      throw new IllegalStateException("pwrite at 0x" + Long.toHexString(addr) + " failed");
    }
  }

  /** Reads one quad of guest memory. */
  public long peek(VmspaceId id, long addr) {
    MemorySegment buf = MemorySegment.ofArray(new long[1]);
    if (vms.pread(id, buf, 8, 0, addr) != 8) {
      throw new IllegalStateException("pread at 0x" + Long.toHexString(addr) + " failed");
    }
    return buf.get(ValueLayout.JAVA_LONG, 0);
  }

  /**
   * Runs {@code read_report}: the guest reads the quad at {@code va} and reports it in rdi.
   *
   * @throws IllegalStateException if the run does not end in the report's system call
   */
  public long readReport(VmspaceId id, long va) {
    TrapFrame f = at("read_report").rbx(va);
    expectReport(run(id, f, new VextFrame()), "read", va);
    return f.rdi();
  }

  /**
   * Runs {@code write_report}: the guest writes {@code value} to the quad at {@code va}.
   *
   * @throws IllegalStateException if the run does not end in the report's system call
   */
  public void writeReport(VmspaceId id, long va, long value) {
    expectReport(run(id, at("write_report").rbx(va).rdi(value), new VextFrame()), "write", va);
  }

  private static void expectReport(RunResult r, String what, long va) {
    if (r != RunResult.SYSCALL) {
      throw new IllegalStateException(what + " 0x" + Long.toHexString(va) + " ended in " + r + ", not its report");
    }
  }

  /** Runs without a timeout. */
  public RunResult run(VmspaceId id, TrapFrame f, VextFrame x) {
    return vms.run(id, f, x);
  }

  @Override
  public void close() {
    vms.close();
  }
}
