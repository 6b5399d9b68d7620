package org.vmspace.vkernel.testing;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.vmspace.api.BackendInfo;
import org.vmspace.api.Backing;
import org.vmspace.api.Errno;
import org.vmspace.api.HostFile;
import org.vmspace.api.MapFlags;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.RunResult;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceService;

/**
 * A {@link VmspaceService} without KVM for host tests of what builds address spaces (the ELF
 * loader, execve): it keeps each vmspace as a map of ranges and the bytes written into it, and
 * answers mmap, munmap, mprotect, mcontrol, pread and pwrite with the checks and errnos of
 * {@code docs/api.md} for those calls, comparing sizes and addresses unsigned. Private file
 * mappings read the file's bytes (zero past its end) until a page is written. Running guest code
 * ({@code ctl}, {@code run}), {@code fork} and vector state are not modelled: they throw
 * {@link UnsupportedOperationException}, which a test of the loader treats as a failure.
 *
 * <p>It also watches the caller: {@link #outOfRange()} counts requests for memory at or past
 * {@link #VM_MAX_USER_ADDRESS} or wrapping 2^64 (refused with the contract's errno, never
 * performed), and {@link #live()} how many vmspaces exist, so that a test can check that a
 * failed exec destroyed what it created. Thread-safe (every call holds the service's monitor).
 */
public final class ModelVmspaceService implements VmspaceService {
  private static final long PAGE = PAGE_SIZE;
  private static final int KNOWN_FLAGS = MapFlags.MAP_SHARED | MapFlags.MAP_PRIVATE | MapFlags.MAP_FIXED
      | MapFlags.MAP_ANON | MapFlags.MAP_STACK | MapFlags.MAP_NORESERVE | MapFlags.MAP_TRYFIXED;

  /** One mapping: {@code [start, end)}, page-aligned. */
  public record Range(long start, long end, int prot, int flags, Backing backing, long offset) {}

  private static final class Space {
    final TreeMap<Long, Range> ranges = new TreeMap<>(Long::compareUnsigned);
    /** Pages written since they were mapped, by address. */
    final TreeMap<Long, byte[]> written = new TreeMap<>(Long::compareUnsigned);
  }

  private final long memoryLimit;
  private final Map<VmspaceId, Space> spaces = new HashMap<>();
  private final List<ModelFile> files = new ArrayList<>();
  private long outOfRange;
  private boolean closed;

  /** @param memoryLimit the memory limit writable anonymous mappings are checked against */
  public ModelVmspaceService(long memoryLimit) {
    this.memoryLimit = memoryLimit;
  }

  private static VmspaceException error(Errno e, String call, VmspaceId id, String detail) {
    return new VmspaceException(e, call, id, detail);
  }

  private Space space(String call, VmspaceId id) {
    if (closed) {
      throw new IllegalStateException("closed");
    }
    Space s = id == null ? null : spaces.get(id);
    if (s == null) {
      throw error(Errno.ENOENT, call, id, "no such vmspace");
    }
    return s;
  }

  /** How many vmspaces exist. */
  public synchronized int live() {
    return spaces.size();
  }

  /** How many requests named memory past the user limit or wrapping (each refused). */
  public synchronized long outOfRange() {
    return outOfRange;
  }

  /** How many host files opened through {@link #openFile} are still open (not closed). */
  public synchronized long openFiles() {
    files.removeIf(f -> !f.isOpen());
    return files.size();
  }

  /** The mappings of vmspace {@code id}, in address order. */
  public synchronized List<Range> ranges(VmspaceId id) {
    return List.copyOf(space("ranges", id).ranges.values());
  }

  @Override
  public synchronized void create(VmspaceId id, int type, long data) {
    if (id == null || id.equals(VmspaceId.NULL)) {
      throw error(Errno.EINVAL, "create", id, "null id");
    }
    if (spaces.containsKey(id)) {
      throw error(Errno.EEXIST, "create", id, "exists");
    }
    spaces.put(id, new Space());
  }

  @Override
  public synchronized void destroy(VmspaceId id) {
    space("destroy", id);
    spaces.remove(id);
  }

  @Override
  public RunResult ctl(VmspaceId id, int cmd, TrapFrame frame, VextFrame vframe) {
    throw new UnsupportedOperationException("the model runs no guest code");
  }

  @Override
  public RunResult run(VmspaceId id, TrapFrame frame, VextFrame vframe, Duration timeout) {
    throw new UnsupportedOperationException("the model runs no guest code");
  }

  @Override
  public void interrupt(Thread runner) {
    throw new UnsupportedOperationException("the model runs no guest code");
  }

  /** Whether {@code [addr, addr + len)} wraps or ends past the user limit. */
  private boolean outside(long addr, long len) {
    long end = addr + len;
    boolean out = Long.compareUnsigned(end, addr) < 0 || Long.compareUnsigned(end, VM_MAX_USER_ADDRESS) > 0;
    if (out) {
      outOfRange++;
    }
    return out;
  }

  @Override
  public synchronized long mmap(VmspaceId id, long addr, long len, int prot, int flags, Backing backing, long offset) {
    Space s = space("mmap", id);
    boolean anon = (flags & MapFlags.MAP_ANON) != 0;
    int type = flags & (MapFlags.MAP_SHARED | MapFlags.MAP_PRIVATE);
    if ((flags & ~KNOWN_FLAGS) != 0 || (type != MapFlags.MAP_SHARED && type != MapFlags.MAP_PRIVATE)
        || (prot & ~7) != 0) {
      throw error(Errno.EINVAL, "mmap", id, "flags or prot");
    }
    if (anon && (backing != null || offset != 0)) {
      throw error(Errno.EINVAL, "mmap", id, "MAP_ANON with a backing");
    }
    if (len == 0) {
      throw error(Errno.EINVAL, "mmap", id, "len is 0");
    }
    long pageOff = offset & (PAGE - 1);
    long size = pageOff + len + PAGE - 1;
    if (Long.compareUnsigned(size, len) < 0) {
      throw error(Errno.EINVAL, "mmap", id, "size wraps");
    }
    size &= -PAGE;
    boolean fixed = (flags & (MapFlags.MAP_FIXED | MapFlags.MAP_TRYFIXED)) != 0;
    if (fixed && ((addr & (PAGE - 1)) != pageOff || outside(addr - pageOff, size))) {
      throw error(Errno.EINVAL, "mmap", id, "fixed range");
    }
    if (!anon && (backing == null || !backing.isOpen())) {
      throw error(Errno.EBADF, "mmap", id, "backing");
    }
    if (!anon && type == MapFlags.MAP_SHARED && (prot & 2) != 0 && !backing.isWritable()) {
      throw error(Errno.EACCES, "mmap", id, "read-only backing");
    }
    if (!anon && Long.compareUnsigned(offset, backing.size()) >= 0) {
      throw error(Errno.EINVAL, "mmap", id, "offset past the backing");
    }
    if (anon && (prot & 2) != 0 && (flags & MapFlags.MAP_NORESERVE) == 0 && Long.compareUnsigned(size, memoryLimit) > 0) {
      throw error(Errno.ENOMEM, "mmap", id, "larger than the memory limit");
    }
    long at;
    if ((flags & MapFlags.MAP_FIXED) != 0) {
      at = addr - pageOff;
    } else if ((flags & MapFlags.MAP_TRYFIXED) != 0) {
      at = addr - pageOff;
      if (overlaps(s, at, at + size)) {
        throw error(Errno.ENOMEM, "mmap", id, "range in use");
      }
    } else {
      at = findSpace(s, Long.compareUnsigned(addr, 0x10000) < 0 ? 0x10000 : addr & -PAGE, size);
      if (at == -1) {
        at = findSpace(s, 0x10000, size);
      }
      if (at == -1) {
        throw error(Errno.ENOMEM, "mmap", id, "no room");
      }
    }
    cut(s, at, at + size);
    s.ranges.put(at, new Range(at, at + size, prot, flags & ~(MapFlags.MAP_FIXED | MapFlags.MAP_TRYFIXED),
        anon ? null : backing, anon ? 0 : offset - pageOff));
    return at + pageOff;
  }

  private static boolean overlaps(Space s, long start, long end) {
    Map.Entry<Long, Range> below = s.ranges.lowerEntry(end);
    return below != null && Long.compareUnsigned(below.getValue().end(), start) > 0;
  }

  /** The lowest free range of {@code size} at or above {@code from}, or -1. */
  private static long findSpace(Space s, long from, long size) {
    long at = from;
    Map.Entry<Long, Range> prev = s.ranges.lowerEntry(at);
    if (prev != null && Long.compareUnsigned(prev.getValue().end(), at) > 0) {
      at = prev.getValue().end();
    }
    for (Range r : s.ranges.tailMap(at, true).values()) {
      if (Long.compareUnsigned(r.start() - at, size) >= 0) {
        break;
      }
      at = r.end();
    }
    return Long.compareUnsigned(VM_MAX_USER_ADDRESS - at, size) >= 0 && Long.compareUnsigned(at, VM_MAX_USER_ADDRESS) <= 0
        ? at : -1;
  }

  /** Removes {@code [start, end)} from the map, splitting the ranges it cuts. */
  private static void cut(Space s, long start, long end) {
    List<Range> keep = new ArrayList<>();
    for (var it = s.ranges.entrySet().iterator(); it.hasNext();) {
      Range r = it.next().getValue();
      if (Long.compareUnsigned(r.end(), start) <= 0 || Long.compareUnsigned(r.start(), end) >= 0) {
        continue;
      }
      it.remove();
      if (Long.compareUnsigned(r.start(), start) < 0) {
        keep.add(new Range(r.start(), start, r.prot(), r.flags(), r.backing(), r.offset()));
      }
      if (Long.compareUnsigned(r.end(), end) > 0) {
        keep.add(new Range(end, r.end(), r.prot(), r.flags(), r.backing(),
            r.backing() == null ? 0 : r.offset() + (end - r.start())));
      }
    }
    keep.forEach(r -> s.ranges.put(r.start(), r));
    s.written.subMap(start, true, end, false).clear();
  }

  private static boolean covered(Space s, long start, long end) {
    long at = start;
    while (Long.compareUnsigned(at, end) < 0) {
      Map.Entry<Long, Range> e = s.ranges.floorEntry(at);
      if (e == null || Long.compareUnsigned(e.getValue().end(), at) <= 0) {
        return false;
      }
      at = e.getValue().end();
    }
    return true;
  }

  @Override
  public synchronized void munmap(VmspaceId id, long addr, long len) {
    Space s = space("munmap", id);
    long start = addr & -PAGE;
    long end = addr + len + PAGE - 1;
    if (Long.compareUnsigned(end, addr) < 0) {
      outOfRange++;
      throw error(Errno.EINVAL, "munmap", id, "wraps");
    }
    end &= -PAGE;
    if (end == start) {
      return;
    }
    if (outside(start, end - start)) {
      throw error(Errno.EINVAL, "munmap", id, "past the user limit");
    }
    if (!covered(s, start, end)) {
      throw error(Errno.EINVAL, "munmap", id, "not entirely mapped");
    }
    cut(s, start, end);
  }

  @Override
  public synchronized void mcontrol(VmspaceId id, long addr, long len, int behav, long value) {
    space("mcontrol", id);
  }

  @Override
  public synchronized void mprotect(VmspaceId id, long addr, long len, int prot) {
    Space s = space("mprotect", id);
    long end = addr + len + PAGE - 1;
    if ((addr & (PAGE - 1)) != 0 || Long.compareUnsigned(end, addr) < 0 || (prot & ~7) != 0) {
      throw error(Errno.EINVAL, "mprotect", id, "arguments");
    }
    end &= -PAGE;
    if (end == addr) {
      return;
    }
    if (outside(addr, end - addr) || !covered(s, addr, end)) {
      throw error(Errno.ENOMEM, "mprotect", id, "not mapped");
    }
    List<Range> changed = new ArrayList<>();
    for (Range r : s.ranges.values()) {
      if (Long.compareUnsigned(r.end(), addr) > 0 && Long.compareUnsigned(r.start(), end) < 0) {
        long from = Long.compareUnsigned(r.start(), addr) < 0 ? addr : r.start();
        long to = Long.compareUnsigned(r.end(), end) > 0 ? end : r.end();
        changed.add(new Range(from, to, prot, r.flags(), r.backing(),
            r.backing() == null ? 0 : r.offset() + (from - r.start())));
      }
    }
    TreeMap<Long, byte[]> written = new TreeMap<>(s.written.subMap(addr, true, end, false));
    cut(s, addr, end);
    changed.forEach(r -> s.ranges.put(r.start(), r));
    s.written.putAll(written);
  }

  /** The range holding {@code addr}, or null. */
  private static Range at(Space s, long addr) {
    Map.Entry<Long, Range> e = s.ranges.floorEntry(addr);
    return e == null || Long.compareUnsigned(e.getValue().end(), addr) <= 0 ? null : e.getValue();
  }

  /** The current bytes of the page at {@code page} in range {@code r}. */
  private static byte[] page(Space s, Range r, long page) {
    byte[] w = s.written.get(page);
    if (w != null) {
      return w;
    }
    byte[] b = new byte[(int) PAGE];
    if (r.backing() instanceof ModelFile f) {
      f.read(r.offset() + (page - r.start()), b);
    } else if (r.backing() instanceof MemoryObject m) {
      long off = r.offset() + (page - r.start());
      long n = Math.max(0, Math.min(PAGE, m.size() - off));
      MemorySegment.copy(m.segment(), ValueLayout.JAVA_BYTE, off, b, 0, (int) n);
    }
    return b;
  }

  @Override
  public synchronized long pread(VmspaceId id, MemorySegment dst, long len, int flags, long addr) {
    return copy("pread", id, dst, len, addr, false);
  }

  @Override
  public synchronized long pwrite(VmspaceId id, MemorySegment src, long len, int flags, long addr) {
    return copy("pwrite", id, src, len, addr, true);
  }

  private long copy(String call, VmspaceId id, MemorySegment buf, long len, long addr, boolean write) {
    Space s = space(call, id);
    if (buf == null) {
      throw error(Errno.EFAULT, call, id, "null buffer");
    }
    if (len < 0) {
      throw error(Errno.EINVAL, call, id, "negative length");
    }
    if (len > 0 && outside(addr, len)) {
      throw error(Errno.EFAULT, call, id, "past the user limit");
    }
    long done = 0;
    while (done < len) {
      long a = addr + done;
      long page = a & -PAGE;
      Range r = at(s, a);
      if (r == null) {
        break;
      }
      int in = (int) (a - page);
      int n = (int) Math.min(PAGE - in, len - done);
      byte[] b = page(s, r, page);
      if (write) {
        b = b.clone();
        MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, done, b, in, n);
        s.written.put(page, b);
      } else {
        MemorySegment.copy(b, in, buf, ValueLayout.JAVA_BYTE, done, n);
      }
      done += n;
    }
    if (done == 0 && len > 0) {
      throw error(Errno.EFAULT, call, id, "not mapped");
    }
    return done;
  }

  @Override
  public void fork(VmspaceId parent, VmspaceId child) {
    throw new UnsupportedOperationException("not modelled");
  }

  @Override
  public void copyVectorState(VextFrame from, VextFrame to) {
    throw new UnsupportedOperationException("not modelled");
  }

  @Override
  public synchronized MemoryObject createMemoryObject(long size) {
    if (size <= 0) {
      throw error(Errno.EINVAL, "createMemoryObject", null, "size");
    }
    if (size > memoryLimit) {
      throw error(Errno.ENOMEM, "createMemoryObject", null, "over the limit");
    }
    Arena arena = Arena.ofShared();
    MemorySegment seg = arena.allocate(size, PAGE);
    return new MemoryObject() {
      private boolean open = true;

      @Override
      public MemorySegment segment() {
        if (!open) {
          throw new IllegalStateException("closed");
        }
        return seg;
      }

      @Override
      public long size() {
        return size;
      }

      @Override
      public boolean isOpen() {
        return open;
      }

      @Override
      public void close() {
        open = false;
      }
    };
  }

  @Override
  public synchronized HostFile openFile(Path path, boolean writable) {
    if (path == null) {
      throw error(Errno.EFAULT, "openFile", null, "null path");
    }
    if (!Files.isRegularFile(path)) {
      throw error(Files.exists(path) ? Errno.EINVAL : Errno.ENOENT, "openFile", null, path.toString());
    }
    try {
      ModelFile f = new ModelFile(path, Files.readAllBytes(path), writable);
      files.add(f);
      return f;
    } catch (IOException e) {
      throw error(Errno.EIO, "openFile", null, e.getMessage());
    }
  }

  /**
   * A host file: its bytes are read once when it is opened (the test files are small), so that
   * closing it never strands a private mapping that still reads it.
   */
  private static final class ModelFile implements HostFile {
    private final Path path;
    private final byte[] bytes;
    private final boolean writable;
    private volatile boolean open = true;

    ModelFile(Path path, byte[] bytes, boolean writable) {
      this.path = path;
      this.bytes = bytes;
      this.writable = writable;
    }

    void read(long offset, byte[] into) {
      if (Long.compareUnsigned(offset, bytes.length) < 0) {
        System.arraycopy(bytes, (int) offset, into, 0, (int) Math.min(into.length, bytes.length - offset));
      }
    }

    @Override
    public Path path() {
      return path;
    }

    @Override
    public long size() {
      return bytes.length;
    }

    @Override
    public boolean isWritable() {
      return writable;
    }

    @Override
    public boolean isOpen() {
      return open;
    }

    @Override
    public void close() {
      open = false;
    }
  }

  @Override
  public VmspaceService inherit() {
    throw new UnsupportedOperationException("not modelled");
  }

  @Override
  public synchronized void close() {
    closed = true;
    spaces.clear();
    files.clear();
  }

  @Override
  public BackendInfo backendInfo() {
    throw new UnsupportedOperationException("not modelled");
  }
}
