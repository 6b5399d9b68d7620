package org.vmspace.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/** Pins the calling thread to one CPU (sched_setaffinity), so measurements compare like with like. */
@SuppressWarnings("restricted")
final class Affinity {
  private static final MethodHandle SCHED_SETAFFINITY =
      Linker.nativeLinker().downcallHandle(
          Linker.nativeLinker().defaultLookup().findOrThrow("sched_setaffinity"),
          FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));

  private Affinity() {}

  static void pinCurrentThread(int cpu) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment set = arena.allocate(128, 8);
      set.set(ValueLayout.JAVA_LONG, (cpu / 64) * 8L, 1L << (cpu % 64));
      int r = (int) SCHED_SETAFFINITY.invokeExact(0, 128L, set);
      if (r != 0) {
        throw new IllegalStateException("sched_setaffinity failed");
      }
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }
}
