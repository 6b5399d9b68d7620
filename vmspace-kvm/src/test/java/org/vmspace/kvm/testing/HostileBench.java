package org.vmspace.kvm.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.vmspace.api.MapFlags;
import org.vmspace.api.Prot;
import org.vmspace.api.RunResult;
import org.vmspace.api.Trap;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceId;

/**
 * The bench of the hostile-guest tests (issue 16): a vmspace whose machine code the test writes
 * with {@code pwrite} into a read-write-execute area, a data area, and a bystander vmspace whose
 * memory must never change; each case runs one frame and compares the trap the service reports
 * with the one the architecture prescribes. Mismatches are collected (not thrown) so that one
 * run lists every case that broke the contract, and counted per category for
 * {@code docs/reliability.md}.
 */
public final class HostileBench implements AutoCloseable {
  /** The code area: read, write and execute, 64 KiB of 64-byte slots. */
  public static final long CODE = 0x1000_0000L;
  /** Bytes of the code area. */
  public static final long CODE_SIZE = 0x10000;
  /** The data area: read and write, not executable. */
  public static final long DATA = 0x2000_0000L;
  /** Bytes of the data area. */
  public static final long DATA_SIZE = 0x4000;
  /** RFLAGS.RF, which the CPU sets in the RFLAGS it pushes for a fault. */
  public static final long RF = 0x10000;
  /** What RAX holds on entry, so that an instruction that should not complete shows if it did. */
  public static final long RAX_MARK = 0x5A5A_1234_0000_7777L;

  private static final int SLOT = 64;
  private static final long HEALTH = CODE + CODE_SIZE - SLOT;

  /** The fixture (the service and the test program). */
  public final GuestFixture g;
  /** The vmspace the hostile code runs in. */
  public final VmspaceId id;
  /** A vmspace that must not notice anything. */
  public final VmspaceId bystander;
  /** The guest thread's vector state. */
  public final VextFrame x = new VextFrame();

  private final byte[] bystanderPage = new byte[4096];
  private long nextSlot = CODE;
  private final Map<String, int[]> tally = new LinkedHashMap<>();
  private final Map<String, Long> nanos = new LinkedHashMap<>();
  private final List<String> failures = new ArrayList<>();
  private long runs;
  private long seedHealth = 1;

  /** A bench on {@code fixture}: vmspaces 1 (hostile) and 2 (bystander). */
  public HostileBench(GuestFixture fixture) {
    this.g = fixture;
    this.id = g.space(1);
    g.vms.mmap(id, CODE, CODE_SIZE, Prot.PROT_READ | Prot.PROT_WRITE | Prot.PROT_EXEC,
        MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON | MapFlags.MAP_FIXED, null, 0);
    g.anon(id, DATA, DATA_SIZE, Prot.PROT_READ | Prot.PROT_WRITE);
    // mov %rdi,%rax; inc %rax; syscall: the same vmspace still runs ordinary code.
    write(HEALTH, 0x48, 0x89, 0xF8, 0x48, 0xFF, 0xC0, 0x0F, 0x05);
    this.bystander = g.space(2);
    g.anon(bystander, DATA, 4096, Prot.PROT_READ | Prot.PROT_WRITE);
    new java.util.Random(16).nextBytes(bystanderPage);
    if (g.vms.pwrite(bystander, MemorySegment.ofArray(bystanderPage), 4096, 0, DATA) != 4096) {
      throw new IllegalStateException("pwrite of the bystander's page failed");
    }
  }

  /** Encodes bytes given as ints. */
  public static byte[] bytes(int... b) {
    byte[] out = new byte[b.length];
    for (int i = 0; i < b.length; i++) {
      out[i] = (byte) b[i];
    }
    return out;
  }

  /** Concatenates byte arrays. */
  public static byte[] concat(byte[]... parts) {
    int n = 0;
    for (byte[] p : parts) {
      n += p.length;
    }
    byte[] out = new byte[n];
    int at = 0;
    for (byte[] p : parts) {
      System.arraycopy(p, 0, out, at, p.length);
      at += p.length;
    }
    return out;
  }

  /** Writes code (or data) into the hostile vmspace with pwrite, as a caller would. */
  public void write(long addr, byte[] code) {
    if (g.vms.pwrite(id, MemorySegment.ofArray(code), code.length, 0, addr) != code.length) {
      throw new IllegalStateException("pwrite at 0x" + Long.toHexString(addr) + " failed");
    }
  }

  /** {@link #write(long, byte[])} of bytes given as ints. */
  public void write(long addr, int... code) {
    write(addr, bytes(code));
  }

  /**
   * A fresh 64-byte slot of the code area holding {@code code} (followed by {@code ud2}, so that
   * running off the end is loud). Slots are handed out in turn and reused after 1023.
   */
  public long slot(byte[] code) {
    if (code.length > SLOT - 2) {
      throw new IllegalArgumentException("code longer than a slot: " + code.length);
    }
    long at = nextSlot;
    nextSlot += SLOT;
    if (nextSlot >= HEALTH) {
      nextSlot = CODE;
    }
    write(at, concat(code, bytes(0x0F, 0x0B)));
    return at;
  }

  /** {@code len} contiguous bytes of the code area (whole slots), filled with {@code ud2}. */
  public long region(int len) {
    int slots = (len + SLOT - 1) / SLOT;
    if (nextSlot + (long) slots * SLOT > HEALTH) {
      nextSlot = CODE;
    }
    long at = nextSlot;
    nextSlot += (long) slots * SLOT;
    byte[] fill = new byte[slots * SLOT];
    for (int i = 0; i < fill.length; i += 2) {
      fill[i] = 0x0F;
      fill[i + 1] = 0x0B;
    }
    write(at, fill);
    return at;
  }

  /** A frame at {@code rip} with the stack at the top, RBX at the data area, RAX marked. */
  public static TrapFrame frame(long rip) {
    return new TrapFrame().rip(rip).rsp(GuestFixture.STACK_TOP).rflags(0x202).rbx(DATA).rax(RAX_MARK);
  }

  /** What a case must end in. {@code rflags} -1 means not checked. */
  public record Expect(RunResult result, long trapno, long err, long addr, long rip, long rsp, long rflags) {
    /** A fault ({@code rflags} with RF) at {@code rip}, the stack untouched. */
    public static Expect fault(int trapno, long err, long addr, long rip) {
      RunResult r = trapno == Trap.T_PAGEFLT ? RunResult.PAGEFAULT : RunResult.TRAP;
      return new Expect(r, trapno, err, addr, rip, GuestFixture.STACK_TOP, 0x202 | RF);
    }

    /** A trap (RF clear) reported with RIP after the instruction. */
    public static Expect trap(int trapno, long ripAfter) {
      return new Expect(RunResult.TRAP, trapno, 0, 0, ripAfter, GuestFixture.STACK_TOP, 0x202);
    }

    /** {@code #GP(err)} at {@code rip}. */
    public static Expect gp(long err, long rip) {
      return fault(Trap.T_PROTFLT, err, 0, rip);
    }

    /** {@code #UD} at {@code rip}. */
    public static Expect ud(long rip) {
      return fault(Trap.T_PRIVINFLT, 0, 0, rip);
    }

    /** A system call whose instruction ends at {@code ripAfter}. */
    public static Expect syscall(long ripAfter) {
      return new Expect(RunResult.SYSCALL, Trap.T_FAST_SYSCALL, 2, 0, ripAfter, GuestFixture.STACK_TOP, -1);
    }

    /** The same with another RSP. */
    public Expect rsp(long value) {
      return new Expect(result, trapno, err, addr, rip, value, rflags);
    }

    /** The same with other RFLAGS ({@code -1}: not checked). */
    public Expect rflags(long value) {
      return new Expect(result, trapno, err, addr, rip, rsp, value);
    }
  }

  /**
   * Runs {@code f} in the hostile vmspace and compares the outcome with {@code e}; a mismatch is
   * recorded under {@code category} with the case's {@code name}.
   *
   * @return whether it matched
   */
  public boolean check(String category, String name, TrapFrame f, Expect e) {
    int[] t = tally.computeIfAbsent(category, k -> new int[2]);
    t[0]++;
    long start = System.nanoTime();
    RunResult r = g.run(id, f, x);
    nanos.merge(category, System.nanoTime() - start, Long::sum);
    runs++;
    List<String> wrong = new ArrayList<>();
    if (r != e.result()) {
      wrong.add("result " + r + " (expected " + e.result() + ")");
    }
    compare(wrong, "trapno", f.trapno(), e.trapno());
    compare(wrong, "err", f.err(), e.err());
    compare(wrong, "addr", f.addr(), e.addr());
    compare(wrong, "rip", f.rip(), e.rip());
    compare(wrong, "rsp", f.rsp(), e.rsp());
    if (e.rflags() != -1) {
      compare(wrong, "rflags", f.rflags(), e.rflags());
    }
    compare(wrong, "cs", f.cs(), 0x33);
    compare(wrong, "ss", f.ss(), 0x2b);
    if (!wrong.isEmpty()) {
      t[1]++;
      failures.add(category + ": " + name + ": " + String.join(", ", wrong) + " in " + f);
      return false;
    }
    return true;
  }

  /** Records a mismatch found by the test itself (not by {@link #check}). */
  public void fail(String category, String what) {
    tally.computeIfAbsent(category, k -> new int[2])[1]++;
    failures.add(category + ": " + what);
  }

  /** Counts one case that the test checked itself. */
  public void count(String category) {
    tally.computeIfAbsent(category, k -> new int[2])[0]++;
  }

  private static void compare(List<String> wrong, String field, long actual, long expected) {
    if (actual != expected) {
      wrong.add(field + " 0x" + Long.toHexString(actual) + " (expected 0x" + Long.toHexString(expected) + ")");
    }
  }

  /**
   * The service is healthy: the hostile vmspace still runs ordinary code to a system call, and
   * the bystander's page and its guest's view of it are unchanged.
   */
  public void healthy(String category) {
    int[] t = tally.computeIfAbsent(category, k -> new int[2]);
    long value = seedHealth++ * 0x9E37_79B9_7F4A_7C15L;
    TrapFrame f = frame(HEALTH).rdi(value);
    RunResult r = g.run(id, f, x);
    runs++;
    if (r != RunResult.SYSCALL || f.rax() != value + 1 || f.rip() != HEALTH + 8) {
      t[1]++;
      failures.add(category + ": the hostile vmspace no longer runs ordinary code: " + r + " " + f);
    }
    byte[] now = new byte[4096];
    g.vms.pread(bystander, MemorySegment.ofArray(now), 4096, 0, DATA);
    TrapFrame b = GuestFixture.at("read_report").rbx(DATA);
    RunResult br = g.run(bystander, b, new VextFrame());
    runs++;
    long first = MemorySegment.ofArray(bystanderPage).get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
    if (!Arrays.equals(now, bystanderPage) || br != RunResult.SYSCALL || b.rdi() != first) {
      t[1]++;
      failures.add(category + ": the bystander vmspace changed: " + br + " " + b);
    }
  }

  /** Runs so far (cases and health checks). */
  public long runs() {
    return runs;
  }

  /** Forgets the mismatches recorded so far (the per-category counts stay). */
  public void clearFailures() {
    failures.clear();
  }

  /** Fails with every recorded mismatch, if any. */
  public void assertNoFailures() {
    assertThat(failures).as("cases that broke the contract").isEmpty();
  }

  /** Prints one line per category: cases, failures, time per run. */
  public void report() {
    for (Map.Entry<String, int[]> c : tally.entrySet()) {
      long ns = nanos.getOrDefault(c.getKey(), 0L);
      int cases = c.getValue()[0];
      System.out.printf("hostile-guest %s: cases=%d failures=%d run-time=%d ms (%.3f ms/case) where=%s%n",
          c.getKey(), cases, c.getValue()[1], ns / 1_000_000, cases == 0 ? 0.0 : ns / 1e6 / cases,
          System.getProperty("vmspace.kvm.where", "native"));
    }
  }

  @Override
  public void close() {
    report();
    g.close();
  }
}
