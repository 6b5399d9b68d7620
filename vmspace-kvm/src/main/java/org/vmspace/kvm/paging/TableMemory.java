package org.vmspace.kvm.paging;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.vmspace.kvm.memory.FrameAllocator;
import org.vmspace.kvm.memory.GuestMemory;

/**
 * Where page tables live: reads and host-side writes of 64-bit entries by guest-physical
 * address, and zeroed frames for new tables (gVisor's Allocator). Production uses guest memory;
 * tests use a heap array.
 */
public interface TableMemory {
  /** Reads the entry at {@code gpa}. */
  long read(long gpa);

  /**
   * Reads {@code count} consecutive entries from {@code gpa} into {@code into[0..count)}, as
   * {@code count} calls of {@link #read} would; memory that can copies them at once.
   */
  default void readEntries(long gpa, int count, long[] into) {
    for (int i = 0; i < count; i++) {
      into[i] = read(gpa + 8L * i);
    }
  }

  /**
   * Whether an entry at {@code gpa} is in this memory. Entries of guest-written tables may
   * point anywhere; an entry outside reads as 0 (not present) where the memory allows it, and
   * is never written. The default, for memory the service owns, holds every address.
   */
  default boolean contains(long gpa) {
    return true;
  }

  /** Writes the entry at {@code gpa} from the host. */
  void write(long gpa, long value);

  /**
   * Writes {@code count} consecutive entries from {@code gpa}, taken from {@code
   * from[offset..offset + count)}, as {@code count} calls of {@link #write} would; memory that
   * can copies them at once.
   */
  default void writeEntries(long gpa, long[] from, int offset, int count) {
    for (int i = 0; i < count; i++) {
      write(gpa + 8L * i, from[offset + i]);
    }
  }

  /**
   * A zeroed frame for a new table.
   *
   * @return its guest-physical address, or -1 if memory is exhausted
   */
  long allocateTable();

  /** Tables in a context's guest memory, new ones in frames of {@code frames}. */
  static TableMemory in(GuestMemory memory, FrameAllocator frames) {
    return new TableMemory() {
      @Override
      public long read(long gpa) {
        return memory.readLong(gpa);
      }

      @Override
      public void readEntries(long gpa, int count, long[] into) {
        memory.readLongs(gpa, count, into);
      }

      @Override
      public void write(long gpa, long value) {
        memory.writeLong(gpa, value);
      }

      @Override
      public void writeEntries(long gpa, long[] from, int offset, int count) {
        memory.writeLongs(gpa, from, offset, count);
      }

      @Override
      public long allocateTable() {
        return frames.allocate();
      }
    };
  }

  /**
   * The tables in {@code memory}, whose offsets are their physical addresses (a memory object
   * of a MAP_VPAGETABLE mapping). It allocates nothing: {@link #allocateTable()} returns -1.
   * An entry outside the segment reads as 0, not present (guest-written tables may point
   * anywhere, and nothing the host walks is there); a write outside throws {@link
   * IndexOutOfBoundsException}.
   */
  static TableMemory of(MemorySegment memory) {
    return new TableMemory() {
      @Override
      public long read(long gpa) {
        return contains(gpa) ? memory.get(ValueLayout.JAVA_LONG_UNALIGNED, gpa) : 0;
      }

      @Override
      public void readEntries(long gpa, int count, long[] into) {
        if (count > 0 && contains(gpa) && contains(gpa + 8L * (count - 1))) {
          MemorySegment.copy(memory, ValueLayout.JAVA_LONG_UNALIGNED, gpa, into, 0, count);
        } else {
          TableMemory.super.readEntries(gpa, count, into);
        }
      }

      @Override
      public boolean contains(long gpa) {
        return gpa >= 0 && gpa <= memory.byteSize() - 8;
      }

      @Override
      public void write(long gpa, long value) {
        memory.set(ValueLayout.JAVA_LONG_UNALIGNED, gpa, value);
      }

      @Override
      public long allocateTable() {
        return -1;
      }
    };
  }
}
