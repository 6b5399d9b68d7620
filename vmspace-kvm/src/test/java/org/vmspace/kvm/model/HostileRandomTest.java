package org.vmspace.kvm.model;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.vmspace.api.Errno;
import org.vmspace.api.MapFlags;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.RunResult;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceOptions;
import org.vmspace.api.VmspaceService;
import org.vmspace.kvm.service.ServiceInternals;
import org.vmspace.kvm.testing.KvmTests;

/**
 * A hostile caller (issue 16): a seeded stream of create, destroy, mmap, munmap, mprotect,
 * mcontrol, pread, pwrite and a few short runs with boundary and garbage arguments — ids 0, -1,
 * unknown and deleted; addresses near 0, the user limit and 2^64; lengths that wrap; bad flags,
 * prot bits and behaviours; frames with every field random — each checked against {@link
 * AddressSpaceModel}: every result is a value or a {@link VmspaceException} whose errno is the
 * model's, never another exception, and the address map's invariants hold after every call.
 * {@code -Dvmspace.hostileOps} sets the number of calls (10^6 for the full run), {@code
 * -Dvmspace.hostileSeed} the seed; the seed is in every failure's message.
 */
@Tag("kvm")
class HostileRandomTest {
  private static final long PAGE = 4096;
  private static final long MAX = VmspaceService.VM_MAX_USER_ADDRESS;
  private static final long LIMIT = 64L << 20;
  private static final int OPERATIONS = Integer.getInteger("vmspace.hostileOps", 1_000_000);
  private static final long SEED = Long.getLong("vmspace.hostileSeed", 0x16_16_16L);
  /** The ids the stream names: NULL, -1, two live-or-deleted ones, one never created. */
  private static final long[] IDS = {0, -1, 1, 2, 3, 0x9999};
  /** The vmspace the runs go to: guest code may change its bytes, so they are not compared. */
  private static final long RUN_ID = 3;

  private final Map<Long, AddressSpaceModel> models = new HashMap<>();
  private final Map<String, Integer> stats = new TreeMap<>();
  private Random rnd;

  @Test
  void everyCallMatchesTheModel() {
    rnd = new Random(SEED);
    long began = System.nanoTime();
    try (VmspaceService vms = KvmTests.open(VmspaceOptions.builder().memoryLimit(LIMIT).maxVcpus(2).build());
        MemoryObject obj = vms.createMemoryObject(8 * PAGE)) {
      AddressSpaceModel.Obj modelObj = new AddressSpaceModel.Obj(8);
      VextFrame x = new VextFrame();
      for (int op = 0; op < OPERATIONS; op++) {
        String at = "seed " + SEED + " (-Dvmspace.hostileSeed) op " + op;
        long raw = IDS[rnd.nextInt(IDS.length)];
        VmspaceId id = rnd.nextInt(200) == 0 ? null : VmspaceId.of(raw);
        AddressSpaceModel m = id == null ? null : models.get(raw);
        int kind = rnd.nextInt(1000);
        Object expected;
        Object got;
        String call;
        if (kind < 30) {
          int type = rnd.nextInt(20) == 0 ? 1 : 0;
          long data = rnd.nextInt(20) == 0 ? -1 : 0;
          call = "create(" + id + ", " + type + ", " + data + ")";
          expected = id == null || raw == 0 || type != 0 || data != 0 ? Errno.EINVAL : m != null ? Errno.EEXIST : null;
          got = outcome(() -> vms.create(id, type, data));
          if (got == null) {
            AddressSpaceModel fresh = new AddressSpaceModel();
            fresh.limitPages = LIMIT / PAGE;
            models.put(raw, fresh);
          }
        } else if (kind < 50) {
          call = "destroy(" + id + ")";
          expected = m == null ? Errno.ENOENT : null;
          got = outcome(() -> vms.destroy(id));
          if (got == null) {
            models.remove(raw);
          }
        } else if (kind < 53) {
          TrapFrame f = new TrapFrame();
          for (int i = 0; i < TrapFrame.SIZE / 8; i++) {
            f.segment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, i, garbage());
          }
          // Guest code with a random frame may write anywhere it can: only RUN_ID (whose bytes
          // are not compared, and which never maps the shared object) or an absent id.
          VmspaceId runId = m == null ? id : VmspaceId.of(RUN_ID);
          AddressSpaceModel rm = runId == null ? null : models.get(runId.value());
          boolean nullFrame = rnd.nextInt(20) == 0;
          call = "run(" + runId + ", random frame)";
          expected = rm == null ? Errno.ENOENT : nullFrame ? Errno.EFAULT : RunResult.class;
          Object r = outcome(() -> vms.run(runId, nullFrame ? null : f, x, Duration.ofMillis(1)));
          got = r instanceof RunResult ? RunResult.class : r;
        } else if (kind < 350) {
          long addr = address();
          long len = length();
          int prot = rnd.nextInt(10) == 0 ? rnd.nextInt() : rnd.nextInt(8);
          int flags = flags();
          boolean useObj = raw != RUN_ID
              && ((flags & MapFlags.MAP_ANON) == 0 ? rnd.nextInt(10) != 0 : rnd.nextInt(30) == 0);
          long offset = useObj || rnd.nextInt(30) == 0 ? offset() : 0;
          call = String.format("mmap(%s, 0x%x, 0x%x, 0x%x, %s, %s, 0x%x)", id, addr, len, prot,
              MapFlags.toString(flags), useObj ? "obj" : "null", offset);
          long[] where = new long[1];
          Errno e = m == null ? Errno.ENOENT : m.mmap(addr, len, prot, flags, useObj ? modelObj : null, useObj, offset, where);
          expected = e != null ? e : (Object) where[0];
          got = outcome(() -> vms.mmap(id, addr, len, prot, flags, useObj ? obj : null, offset));
        } else if (kind < 550) {
          long addr = address();
          long len = length();
          call = String.format("munmap(%s, 0x%x, 0x%x)", id, addr, len);
          expected = m == null ? Errno.ENOENT : m.munmap(addr, len);
          got = outcome(() -> vms.munmap(id, addr, len));
        } else if (kind < 650) {
          long addr = rnd.nextInt(4) == 0 ? address() : address() & ~(PAGE - 1);
          long len = length();
          int prot = rnd.nextInt(10) == 0 ? rnd.nextInt() : rnd.nextInt(8);
          call = String.format("mprotect(%s, 0x%x, 0x%x, %d)", id, addr, len, prot);
          expected = m == null ? Errno.ENOENT : m.mprotect(addr, len, prot);
          got = outcome(() -> vms.mprotect(id, addr, len, prot));
        } else if (kind < 800) {
          long addr = address();
          long len = length();
          int behav = rnd.nextInt(8) == 0 ? rnd.nextInt() : rnd.nextInt(-2, 14);
          call = String.format("mcontrol(%s, 0x%x, 0x%x, %d)", id, addr, len, behav);
          expected = m == null ? Errno.ENOENT : m.mcontrol(addr, len, behav);
          got = outcome(() -> vms.mcontrol(id, addr, len, behav, rnd.nextLong()));
        } else {
          boolean write = kind >= 900;
          long addr = address();
          int flags = rnd.nextInt(30) == 0 ? 1 + rnd.nextInt(7) : 0;
          int size = rnd.nextInt(3 * (int) PAGE);
          long len = rnd.nextInt(30) == 0 ? garbage() : rnd.nextInt(20) == 0 ? size + 1 : size;
          MemorySegment buf = rnd.nextInt(100) == 0 ? null : MemorySegment.ofArray(new byte[size]);
          call = String.format("%s(%s, 0x%x, %d, 0x%x)", write ? "pwrite" : "pread", id, len, flags, addr);
          if (m == null) {
            expected = Errno.ENOENT;
          } else if (flags != 0 || len < 0) {
            expected = Errno.EINVAL;
          } else if (buf == null || buf.byteSize() < len) {
            expected = Errno.EFAULT;
          } else {
            long n = 0;
            while (n < len && Long.compareUnsigned(addr + n, MAX) < 0 && addr + n >= 0
                && (write ? m.writable(addr + n) : m.readable(addr + n))) {
              if (write) {
                m.write(addr + n, buf.get(java.lang.foreign.ValueLayout.JAVA_BYTE, n));
              }
              n++;
            }
            expected = n;
          }
          got = outcome(() -> write ? vms.pwrite(id, buf, len, flags, addr) : vms.pread(id, buf, len, flags, addr));
          if (!write && expected instanceof Long n && n.equals(got) && (id == null || raw != RUN_ID)) {
            for (long i = 0; i < n; i++) {
              if (buf.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i) != m.read(addr + i)) {
                throw new AssertionError(at + " " + call + ": byte " + i + " differs from the model");
              }
            }
          }
        }
        stats.merge(call.substring(0, call.indexOf('(')) + (got instanceof Errno e ? " " + e : " ok"), 1, Integer::sum);
        if (!java.util.Objects.equals(expected, got)) {
          throw new AssertionError(at + " " + call + ": expected " + show(expected) + ", got " + show(got));
        }
        if (id != null && models.containsKey(raw) && !ServiceInternals.verifyAddressMap(vms, id)) {
          throw new AssertionError(at + " " + call + ": vmspace vanished");
        }
      }
    } catch (IllegalStateException e) {
      throw new AssertionError("seed " + SEED + ": address map invariant broken: " + e.getMessage(), e);
    }
    System.out.printf("HostileRandomTest: seed %d, %d calls in %.1f s: %s%n", SEED, OPERATIONS,
        (System.nanoTime() - began) / 1e9, stats);
  }

  /** The call's value, its errno, or — a failure of the test — any other throwable. */
  private static Object outcome(java.util.concurrent.Callable<?> call) {
    try {
      Object v = call.call();
      return v;
    } catch (VmspaceException e) {
      return e.errno();
    } catch (Exception e) {
      throw new AssertionError("not a value nor a VmspaceException: " + e, e);
    }
  }

  private static Object outcome(Runnable call) {
    return outcome(() -> {
      call.run();
      return null;
    });
  }

  private static String show(Object o) {
    return o instanceof Long l ? "0x" + Long.toHexString(l) : String.valueOf(o);
  }

  /** Addresses near 0, the window the mappings go to, the user limit and 2^64. */
  private long address() {
    long base = switch (rnd.nextInt(8)) {
      case 0 -> 0;
      case 1 -> MAX - 16 * PAGE;
      case 2 -> -16 * PAGE;
      case 3 -> 1L << 63;
      case 4 -> garbage();
      default -> 0x1000_0000L;
    };
    long a = base + rnd.nextInt(64) * PAGE;
    return rnd.nextInt(10) == 0 ? a + rnd.nextInt((int) PAGE) : a;
  }

  /**
   * Small lengths, or ones that can never fit (2^47 and more, wrapping, negative): never a
   * large mapping that fits, which the page-by-page model could not hold.
   */
  private long length() {
    return switch (rnd.nextInt(10)) {
      case 0 -> 0;
      case 1 -> -rnd.nextInt(4 * (int) PAGE);
      case 2 -> switch (rnd.nextInt(6)) {
        case 0 -> Long.MAX_VALUE;
        case 1 -> 1L << 63;
        case 2 -> MAX + PAGE;
        case 3 -> Long.MIN_VALUE | rnd.nextLong();
        case 4 -> (1L << 47) + rnd.nextLong(1L << 40);
        default -> -PAGE;
      };
      default -> rnd.nextInt(4) == 0 ? rnd.nextInt(16 * (int) PAGE) : (1 + rnd.nextInt(16)) * PAGE;
    };
  }

  private int flags() {
    int f = rnd.nextInt(6) == 0 ? MapFlags.MAP_SHARED : MapFlags.MAP_PRIVATE;
    if (rnd.nextInt(3) > 0) {
      f |= MapFlags.MAP_ANON;
    }
    f |= switch (rnd.nextInt(4)) {
      case 0 -> MapFlags.MAP_FIXED;
      case 1 -> MapFlags.MAP_TRYFIXED;
      default -> 0;
    };
    if (rnd.nextInt(20) == 0) {
      f |= MapFlags.MAP_NORESERVE;
    }
    if (rnd.nextInt(40) == 0) {
      f |= MapFlags.MAP_SHARED | MapFlags.MAP_PRIVATE;
    }
    if (rnd.nextInt(40) == 0) {
      f = rnd.nextInt() & ~MapFlags.MAP_VPAGETABLE;
    }
    return f & ~MapFlags.MAP_VPAGETABLE;
  }

  private long offset() {
    return switch (rnd.nextInt(6)) {
      case 0 -> -PAGE;
      case 1 -> garbage();
      case 2 -> rnd.nextInt(8) * PAGE + rnd.nextInt((int) PAGE);
      default -> rnd.nextInt(10) * PAGE;
    };
  }

  private long garbage() {
    return switch (rnd.nextInt(5)) {
      case 0 -> rnd.nextLong();
      case 1 -> -1L - rnd.nextInt(8);
      case 2 -> Long.MIN_VALUE + rnd.nextInt(8);
      case 3 -> Long.MAX_VALUE - rnd.nextInt(8);
      default -> rnd.nextInt(1 << 20);
    };
  }
}
