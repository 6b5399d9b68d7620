package org.vmspace.kvm.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.vmspace.api.Errno;
import org.vmspace.api.Madvise;
import org.vmspace.api.MapFlags;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.Prot;
import org.vmspace.api.RunResult;
import org.vmspace.api.Trap;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceId;
import org.vmspace.kvm.testing.GuestFixture;

/**
 * Seeded random sequences of mmap, munmap, mcontrol, pread, pwrite, guest reads and writes and
 * caller writes into memory objects, run against the service and against {@link
 * AddressSpaceModel}: every errno, every placement, every byte the guest or pread sees must
 * match. Four seeds of 25,000 operations: 10^5 in all.
 */
@Tag("kvm")
@Tag("shadow-paging")
class AddressSpaceRandomTest {
  private static final long WINDOW = 0x1000_0000L;
  private static final long WINDOW_PAGES = 1024;
  private static final long PAGE = 4096;
  /**
   * Operations per seed; {@code -Dvmspace.randomOps} lowers it where guests run emulated (the
   * emulated SVM machine of scripts/svm-machine is some 50 times slower).
   */
  private static final int OPERATIONS = Integer.getInteger("vmspace.randomOps", 25_000);
  /** The last changes to the address space, shown when an assertion fails. */
  private static final java.util.ArrayDeque<String> LOG = new java.util.ArrayDeque<>();

  private static void log(String s) {
    if (LOG.size() == 40) {
      LOG.removeFirst();
    }
    LOG.addLast(s);
    FULL.add(s);
  }

  static final List<String> FULL = new ArrayList<>();

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {11, 22, 33, 44})
  void serviceMatchesTheModel(long seed) {
    RandomGenerator rnd = RandomGeneratorFactory.of("L64X128MixRandom").create(seed);
    try (GuestFixture g = new GuestFixture()) {
      VmspaceId id = g.space(1);
      AddressSpaceModel model = new AddressSpaceModel();
      // The program text and the stack are mapped outside the window; the model knows them so
      // that placements agree.
      AddressSpaceModel.Obj fixedObj = new AddressSpaceModel.Obj(1 << 20);
      long[] ignored = new long[1];
      long textLen = (GuestFixture.PROGRAM.size() + PAGE - 1) & ~(PAGE - 1);
      model.mmap(0x400000, textLen, 5, MapFlags.MAP_SHARED | MapFlags.MAP_FIXED, fixedObj, true, 0, ignored);
      model.mmap(GuestFixture.STACK_TOP - GuestFixture.STACK_SIZE, GuestFixture.STACK_SIZE, 3,
          MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON | MapFlags.MAP_FIXED, null, false, 0, ignored);

      List<MemoryObject> objects = new ArrayList<>();
      List<AddressSpaceModel.Obj> modelObjects = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        objects.add(g.vms.createMemoryObject(16 * PAGE));
        modelObjects.add(new AddressSpaceModel.Obj(16));
      }
      VextFrame x = new VextFrame();
      LOG.clear();
      FULL.clear();
      STATS.clear();
      for (int op = 0; op < OPERATIONS; op++) {
        String at = "seed " + seed + " op " + op;
        try {
        int kind = rnd.nextInt(100);
        if (kind < 28) {
          mmap(g, id, model, objects, modelObjects, rnd, at);
        } else if (kind < 42) {
          long start = window(rnd);
          long len = rnd.nextInt(20) == 0
              ? -rnd.nextLong(1, 1 << 20) // wraps
              : rnd.nextInt(10) == 0 ? rnd.nextLong(3 * PAGE) : rnd.nextLong(1, 12) * PAGE;
          Errno expected = model.munmap(start, len);
          count(expected == null ? "munmap ok" : "munmap errno");
          log(at + " munmap(0x" + Long.toHexString(start) + ", 0x" + Long.toHexString(len) + ") -> " + expected);
          expectErrno(at + " munmap", expected, () -> g.vms.munmap(id, start, len));
        } else if (kind < 46) {
          long start = window(rnd) + (rnd.nextInt(20) == 0 ? 8 : 0);
          long len = rnd.nextLong(0, 8) * PAGE;
          int prot = rnd.nextInt(30) == 0 ? 9 : rnd.nextInt(8);
          Errno expected = model.mprotect(start, len, prot);
          count(expected == null ? "mprotect ok" : "mprotect errno");
          log(at + " mprotect(0x" + Long.toHexString(start) + ", 0x" + Long.toHexString(len) + ", " + prot + ") -> " + expected);
          expectErrno(at + " mprotect", expected, () -> g.vms.mprotect(id, start, len, prot));
        } else if (kind < 50) {
          long start = window(rnd);
          long len = rnd.nextLong(1, 8) * PAGE;
          int behav = rnd.nextInt(20) == 0 ? Madvise.MADV_CONTROL_END + 1 + rnd.nextInt(3) : pick(rnd, Madvise.MADV_DONTNEED,
              Madvise.MADV_WILLNEED, Madvise.MADV_NORMAL, Madvise.MADV_FREE, Madvise.MADV_SEQUENTIAL,
              Madvise.MADV_HUGEPAGE, Madvise.MADV_NOHUGEPAGE);
          Errno expected = behav > Madvise.MADV_CONTROL_END ? Errno.EINVAL : null;
          expectErrno(at + " mcontrol " + behav, expected, () -> g.vms.mcontrol(id, start, len, behav, 0));
          log(at + " mcontrol(0x" + Long.toHexString(start) + ", 0x" + Long.toHexString(len) + ", " + behav + ")");
          if (expected == null && (behav == Madvise.MADV_DONTNEED || behav == Madvise.MADV_FREE)) {
            model.dontneed(start & ~(PAGE - 1), (start + len + PAGE - 1) & ~(PAGE - 1));
          }
        } else if (kind < 64) {
          long addr = window(rnd) + rnd.nextLong(PAGE);
          int len = (int) rnd.nextLong(1, 3 * PAGE);
          byte[] buf = new byte[len];
          long got = g.vms.pread(id, MemorySegment.ofArray(buf), len, 0, addr);
          long expected = 0;
          while (expected < len && model.readable(addr + expected)) {
            expected++;
          }
          assertThat(got).as(at + " pread count at 0x%x", addr).isEqualTo(expected);
          for (int i = 0; i < got; i++) {
            if (buf[i] != model.read(addr + i)) {
              throw new AssertionError(at + " pread byte at 0x" + Long.toHexString(addr + i));
            }
          }
        } else if (kind < 74) {
          long addr = window(rnd) + rnd.nextLong(PAGE);
          int len = (int) rnd.nextLong(1, 2 * PAGE);
          byte[] buf = new byte[len];
          rnd.nextBytes(buf);
          long got = g.vms.pwrite(id, MemorySegment.ofArray(buf), len, 0, addr);
          long expected = 0;
          while (expected < len && model.writable(addr + expected)) {
            model.write(addr + expected, buf[(int) expected]);
            expected++;
          }
          assertThat(got).as(at + " pwrite count at 0x%x", addr).isEqualTo(expected);
        } else if (kind < 86) {
          long va = window(rnd) + rnd.nextLong(PAGE / 8) * 8;
          TrapFrame f = GuestFixture.at("read_report").rbx(va);
          RunResult r = g.run(id, f, x);
          count(model.readable(va) ? "guest read ok" : "guest read fault");
          if (model.readable(va)) {
            assertThat(r).as(at + " guest read 0x%x", va).isEqualTo(RunResult.SYSCALL);
            assertThat(f.rdi()).as(at + " guest read 0x%x", va).isEqualTo(modelLong(model, va));
          } else {
            expectFault(r, f, va, false, at);
          }
        } else if (kind < 96) {
          long va = window(rnd) + rnd.nextLong(PAGE / 8) * 8;
          long value = rnd.nextLong();
          TrapFrame f = GuestFixture.at("write_report").rbx(va).rdi(value);
          RunResult r = g.run(id, f, x);
          count(model.writable(va) ? "guest write ok" : "guest write fault");
          if (model.writable(va)) {
            assertThat(r).as(at + " guest write 0x%x", va).isEqualTo(RunResult.SYSCALL);
            for (int i = 0; i < 8; i++) {
              model.write(va + i, (byte) (value >>> (8 * i)));
            }
          } else {
            expectFault(r, f, va, true, at);
          }
        } else {
          int k = rnd.nextInt(objects.size());
          if (rnd.nextInt(8) == 0) {
            objects.get(k).close();
            modelObjects.get(k).open = false;
            objects.set(k, g.vms.createMemoryObject(16 * PAGE));
            modelObjects.set(k, new AddressSpaceModel.Obj(16));
          } else {
            long off = rnd.nextLong(16 * PAGE - 8);
            long value = rnd.nextLong();
            objects.get(k).segment().set(ValueLayout.JAVA_LONG_UNALIGNED, off, value);
            AddressSpaceModel.Obj o = modelObjects.get(k);
            for (int i = 0; i < 8; i++) {
              o.page((off + i) / PAGE)[(int) ((off + i) % PAGE)] = (byte) (value >>> (8 * i));
            }
          }
        }
        if (op % 2500 == 2499) {
          compareWindow(g, id, model, at);
        }
        } catch (AssertionError e) {
          if (System.getProperty("model.dump") != null) {
            try {
              java.nio.file.Files.write(java.nio.file.Path.of(System.getProperty("model.dump") + "-" + seed), FULL);
            } catch (java.io.IOException io) {
              throw new java.io.UncheckedIOException(io);
            }
          }
          throw new AssertionError(e.getMessage() + "\nrecent changes:\n" + String.join("\n", LOG), e);
        }
      }
      compareWindow(g, id, model, "seed " + seed + " end");
      // The sequences must have exercised both outcomes of everything, or they prove little.
      assertThat(STATS).as("outcomes seen: %s", STATS)
          .containsKeys("mmap ok", "mmap errno", "mprotect ok", "mprotect errno", "guest read ok", "guest read fault",
              "guest write ok", "guest write fault", "munmap ok", "munmap errno");
      // (500, 500 and 1000 at the default 25,000 operations per seed.)
      assertThat(STATS.get("guest read ok")).isGreaterThan(OPERATIONS / 50);
      assertThat(STATS.get("guest read fault")).isGreaterThan(OPERATIONS / 50);
      assertThat(STATS.get("mmap ok")).isGreaterThan(OPERATIONS / 25);
    }
  }

  private static final java.util.Map<String, Integer> STATS = new java.util.TreeMap<>();

  private static void count(String what) {
    STATS.merge(what, 1, Integer::sum);
  }

  private static void mmap(GuestFixture g, VmspaceId id, AddressSpaceModel model,
      List<MemoryObject> objects, List<AddressSpaceModel.Obj> modelObjects, RandomGenerator rnd, String at) {
    long addr = window(rnd);
    if (rnd.nextInt(15) == 0) {
      addr += rnd.nextLong(1, PAGE); // misaligned
    }
    long len = rnd.nextInt(15) == 0 ? rnd.nextLong(2) * rnd.nextLong(PAGE) : rnd.nextLong(1, 16) * PAGE;
    int prot = rnd.nextInt(8) == 0 ? 0 : rnd.nextInt(1, 8);
    if (rnd.nextInt(40) == 0) {
      prot |= 8; // invalid
    }
    int flags = rnd.nextBoolean() ? MapFlags.MAP_PRIVATE : MapFlags.MAP_SHARED;
    if (rnd.nextInt(40) == 0) {
      flags |= MapFlags.MAP_PRIVATE | MapFlags.MAP_SHARED;
    }
    boolean anon = rnd.nextInt(3) > 0;
    int k = rnd.nextInt(objects.size());
    MemoryObject backing = null;
    long offset = 0;
    if (anon) {
      flags |= MapFlags.MAP_ANON;
      if (rnd.nextInt(30) == 0) {
        offset = PAGE; // invalid with MAP_ANON
      }
    } else {
      backing = objects.get(k);
      offset = rnd.nextLong(16) * PAGE + (rnd.nextInt(10) == 0 ? rnd.nextLong(PAGE) : 0);
    }
    int placement = rnd.nextInt(3);
    flags |= placement == 0 ? MapFlags.MAP_FIXED : placement == 1 ? MapFlags.MAP_TRYFIXED : 0;
    if (rnd.nextInt(50) == 0) {
      flags |= 0x8000_0000; // unknown
    }
    long[] where = new long[1];
    Errno expected = model.mmap(addr, len, prot, flags, anon ? null : modelObjects.get(k), backing != null, offset, where);
    count(expected == null ? "mmap ok" : "mmap errno");
    long got;
    try {
      got = g.vms.mmap(id, addr, len, prot, flags, backing, offset);
    } catch (VmspaceException e) {
      assertThat(e.errno()).as(at + " mmap(0x%x, 0x%x, %d, %s, off 0x%x): %s", addr, len, prot,
          MapFlags.toString(flags), offset, e.getMessage()).isEqualTo(expected);
      return;
    }
    assertThat(expected).as(at + " mmap(0x%x, 0x%x, %d, %s, off 0x%x) succeeded at 0x%x", addr, len,
        prot, MapFlags.toString(flags), offset, got).isNull();
    assertThat(got).as(at + " mmap placement").isEqualTo(where[0]);
    log(String.format("%s mmap(0x%x, 0x%x, %d, %s, %s off 0x%x) = 0x%x", at, addr, len, prot,
        MapFlags.toString(flags), backing == null ? "anon" : "obj" + k, offset, got));
  }

  private static void expectFault(RunResult r, TrapFrame f, long va, boolean write, String at) {
    assertThat(r).as(at + " fault at 0x%x", va).isEqualTo(RunResult.PAGEFAULT);
    assertThat(f.trapno()).isEqualTo(Trap.T_PAGEFLT);
    assertThat(f.addr()).as(at).isEqualTo(va);
    assertThat(f.err() & (Trap.PF_USER | Trap.PF_WRITE))
        .as(at).isEqualTo(Trap.PF_USER | (write ? Trap.PF_WRITE : 0));
  }

  private static void expectErrno(String at, Errno expected, Runnable call) {
    try {
      call.run();
    } catch (VmspaceException e) {
      assertThat(e.errno()).as(at + ": " + e.getMessage()).isEqualTo(expected);
      return;
    }
    assertThat(expected).as(at + " succeeded").isNull();
  }

  private static long modelLong(AddressSpaceModel model, long va) {
    long v = 0;
    for (int i = 7; i >= 0; i--) {
      v = (v << 8) | (model.read(va + i) & 0xFF);
    }
    return v;
  }

  private static void compareWindow(GuestFixture g, VmspaceId id, AddressSpaceModel model, String at) {
    byte[] buf = new byte[(int) PAGE];
    for (long p = 0; p < WINDOW_PAGES; p++) {
      long va = WINDOW + p * PAGE;
      long got = g.vms.pread(id, MemorySegment.ofArray(buf), PAGE, 0, va);
      if (!model.readable(va)) {
        assertThat(got).as(at + " page 0x%x unreadable", va).isZero();
        continue;
      }
      assertThat(got).as(at + " page 0x%x", va).isEqualTo(PAGE);
      for (int i = 0; i < PAGE; i++) {
        if (buf[i] != model.read(va + i)) {
          throw new AssertionError(at + " byte at 0x" + Long.toHexString(va + i));
        }
      }
    }
  }

  private static long window(RandomGenerator rnd) {
    return WINDOW + rnd.nextLong(WINDOW_PAGES) * PAGE;
  }

  private static int pick(RandomGenerator rnd, int... values) {
    return values[rnd.nextInt(values.length)];
  }
}
