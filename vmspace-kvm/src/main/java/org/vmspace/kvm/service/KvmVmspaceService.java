package org.vmspace.kvm.service;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.vmspace.api.BackendInfo;
import org.vmspace.api.Backing;
import org.vmspace.api.Errno;
import org.vmspace.api.ExitStatistics;
import org.vmspace.api.HostFile;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.RunResult;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceException;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceService;
import java.nio.file.Files;
import org.vmspace.kvm.linux.Errnos;
import org.vmspace.kvm.linux.Libc;
import org.vmspace.kvm.linux.LinuxException;
import org.vmspace.kvm.memory.GuestMemory;
import org.vmspace.kvm.vm.ServiceHostFile;
import org.vmspace.kvm.vm.ServiceMemoryObject;
import org.vmspace.kvm.vm.VmFailure;
import org.vmspace.kvm.vm.VmObject;
import org.vmspace.kvm.vm.Vmspace;
import org.vmspace.registry.Entry;
import org.vmspace.registry.IdRegistry;

/**
 * A handle on a {@link KvmContext}: the eight vmspace calls, each an explicit ladder of checks
 * in the contract's order around a lookup that holds an active reference for the call.
 */
final class KvmVmspaceService implements VmspaceService {
  private final KvmContext ctx;
  private final RunLoop loop;
  private final boolean canRun;
  private final BackendInfo info;
  private final AtomicBoolean closed = new AtomicBoolean();

  KvmVmspaceService(KvmContext ctx, boolean canRun, BackendInfo info) {
    this(ctx, new RunLoop(ctx), canRun, info);
  }

  private KvmVmspaceService(KvmContext ctx, RunLoop loop, boolean canRun, BackendInfo info) {
    this.ctx = ctx;
    this.loop = loop;
    this.canRun = canRun;
    this.info = info;
  }

  // ---------------------------------------------------------------- create / destroy

  @Override
  public void create(VmspaceId id, int type, long data) {
    checkOpen();
    if (id == null || !id.isValid()) {
      throw error(Errno.EINVAL, "vmspace_create", id, "id is 0");
    }
    if (type != 0 || data != 0) {
      throw error(Errno.EINVAL, "vmspace_create", id, "type and data must be 0");
    }
    ctx.gate.enter();
    try {
      createEntered(id);
    } finally {
      ctx.gate.leave();
    }
  }

  private void createEntered(VmspaceId id) {
    Vmspace vs;
    try {
      vs = Vmspace.create(id.value(), ctx);
    } catch (VmFailure f) {
      throw error(f.errno(), "vmspace_create", id, f.getMessage());
    }
    ctx.exits.track(vs);
    boolean registered;
    try {
      registered = ctx.registry.register(id.value(), vs);
    } catch (IllegalStateException closedMeanwhile) {
      ctx.discard(vs);
      throw closedMeanwhile;
    }
    if (!registered) {
      ctx.discard(vs);
      throw error(Errno.EEXIST, "vmspace_create", id, "id is in use");
    }
  }

  @Override
  public void destroy(VmspaceId id) {
    checkOpen();
    IdRegistry.Removal result;
    // Removing the last reference tears the vmspace down (its pages go back to the memfd).
    ctx.gate.enter();
    try {
      result = ctx.registry.remove(value(id));
    } finally {
      ctx.gate.leave();
    }
    switch (result) {
      case NOT_FOUND -> throw error(Errno.ENOENT, "vmspace_destroy", id, "no such vmspace");
      case BUSY -> throw error(Errno.EBUSY, "vmspace_destroy", id, "in use by a running thread or a concurrent call");
      case REMOVED -> { }
    }
  }

  // ---------------------------------------------------------------- ctl

  @Override
  public RunResult ctl(VmspaceId id, int cmd, TrapFrame frame, VextFrame vframe) {
    return ctl("vmspace_ctl", id, cmd, frame, vframe, null);
  }

  @Override
  public RunResult run(VmspaceId id, TrapFrame frame, VextFrame vframe, Duration timeout) {
    return ctl("vmspace_ctl", id, VMSPACE_CTL_RUN, frame, vframe, timeout);
  }

  /**
   * {@link #withVmspace} without the lambda: this is every guest system call's path, and a
   * capturing lambda there would be one allocation per call (issue 17, the hot path).
   */
  private RunResult ctl(
      String call, VmspaceId id, int cmd, TrapFrame frame, VextFrame vframe, Duration timeout) {
    Entry<Vmspace> entry = enter(call, id);
    try {
      return ctlAcquired(entry.value(), cmd, frame, vframe, timeout);
    } catch (VmFailure | LinuxException | IllegalStateException e) {
      throw translate(call, id, e);
    } finally {
      leave(entry);
    }
  }

  private RunResult ctlAcquired(Vmspace vs, int cmd, TrapFrame frame, VextFrame vframe, Duration timeout) {
    if (cmd != VMSPACE_CTL_RUN) {
      throw new VmFailure(Errno.EOPNOTSUPP, "command " + cmd + " is not VMSPACE_CTL_RUN");
    }
    if (frame == null || vframe == null) {
      throw new VmFailure(Errno.EFAULT, frame == null ? "frame is null" : "vframe is null");
    }
    if (!canRun) {
      throw new VmFailure(Errno.EOPNOTSUPP, "no execution backend on this machine: " + info.summary());
    }
    if (timeout != null && timeout.isNegative()) {
      throw new VmFailure(Errno.EINVAL, "negative timeout");
    }
    try {
      return loop.run(vs, frame, vframe, timeout);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new VmFailure(Errno.EINTR, "interrupted while waiting for a vCPU");
    }
  }

  @Override
  public void interrupt(Thread runner) {
    checkOpen();
    if (runner == null) {
      // The null policy (VmspaceService): a null that is not a C pointer is EINVAL.
      throw error(Errno.EINVAL, "vmspace_interrupt", null, "runner is null");
    }
    ctx.runners.interrupt(runner);
  }

  // ---------------------------------------------------------------- memory calls

  @Override
  public long mmap(VmspaceId id, long addr, long len, int prot, int flags, Backing backing, long offset) {
    return withVmspace("vmspace_mmap", id,
        vs -> vs.mmap(addr, len, prot, flags, backing, offset, this::resolveBacking));
  }

  private VmObject resolveBacking(Backing backing, boolean shared) {
    if (backing instanceof ServiceMemoryObject m && m.owner() == ctx) {
      if (!m.isOpen()) {
        throw new VmFailure(Errno.EBADF, "memory object is closed");
      }
      return m;
    }
    if (backing instanceof ServiceHostFile f && f.owner() == ctx) {
      try {
        return f.objectFor(shared);
      } catch (IllegalStateException closed) {
        throw new VmFailure(Errno.EBADF, "host file is closed");
      }
    }
    throw new VmFailure(Errno.EBADF, "backing does not belong to this service: " + backing);
  }

  @Override
  public void munmap(VmspaceId id, long addr, long len) {
    withVmspace("vmspace_munmap", id, vs -> {
      vs.munmap(addr, len);
      return null;
    });
  }

  @Override
  public void mprotect(VmspaceId id, long addr, long len, int prot) {
    withVmspace("vmspace_mprotect", id, vs -> {
      vs.mprotect(addr, len, prot);
      return null;
    });
  }

  @Override
  public void fork(VmspaceId parent, VmspaceId child) {
    withVmspace("vmspace_fork", parent, vs -> {
      if (child == null || !child.isValid()) {
        throw new VmFailure(Errno.EINVAL, "child id is 0");
      }
      if (ctx.registry.contains(child.value())) {
        throw new VmFailure(Errno.EEXIST, "child id " + child + " is in use");
      }
      Vmspace copy = vs.fork(child.value());
      ctx.exits.track(copy);
      if (!ctx.registry.register(child.value(), copy)) {
        ctx.discard(copy);
        throw new VmFailure(Errno.EEXIST, "child id " + child + " is in use");
      }
      return null;
    });
  }

  @Override
  public void copyVectorState(VextFrame from, VextFrame to) {
    checkOpen();
    if (from == null || to == null || from == to) {
      throw error(Errno.EINVAL, "vmspace_copy_vector_state", null,
          from == to && from != null ? "both frames are the same" : "a frame is null");
    }
    ctx.gate.enter();
    try {
      ctx.fpu.copy(from, to);
    } catch (IllegalStateException e) {
      throw error(Errno.EBUSY, "vmspace_copy_vector_state", null, e.getMessage());
    } finally {
      ctx.gate.leave();
    }
  }

  @Override
  public void mcontrol(VmspaceId id, long addr, long len, int behav, long value) {
    withVmspace("vmspace_mcontrol", id, vs -> {
      vs.mcontrol(addr, len, behav, value);
      return null;
    });
  }

  @Override
  public long pread(VmspaceId id, MemorySegment dst, long len, int flags, long addr) {
    return withVmspace("vmspace_pread", id, vs -> {
      checkCopy(dst, len, flags, true);
      return vs.pread(dst, len, addr);
    });
  }

  @Override
  public long pwrite(VmspaceId id, MemorySegment src, long len, int flags, long addr) {
    return withVmspace("vmspace_pwrite", id, vs -> {
      checkCopy(src, len, flags, false);
      return vs.pwrite(src, len, addr);
    });
  }

  private static void checkCopy(MemorySegment buffer, long len, int flags, boolean intoBuffer) {
    if (flags != 0) {
      throw new VmFailure(Errno.EINVAL, "flags must be 0");
    }
    if (len < 0) {
      throw new VmFailure(Errno.EINVAL, "negative len");
    }
    if (buffer == null || buffer.byteSize() < len) {
      throw new VmFailure(Errno.EFAULT, "buffer smaller than len");
    }
    if (intoBuffer && buffer.isReadOnly()) {
      throw new VmFailure(Errno.EFAULT, "buffer is read-only");
    }
  }

  // ---------------------------------------------------------------- backings

  @Override
  public MemoryObject createMemoryObject(long size) {
    checkOpen();
    if (size <= 0) {
      throw error(Errno.EINVAL, "vmspace_memory_object", null, "size must be positive");
    }
    // Rounded up without forming size + PAGE - 1, which wraps for sizes near 2^63.
    long pages = size / GuestMemory.PAGE + (size % GuestMemory.PAGE != 0 ? 1 : 0);
    ctx.gate.enter();
    try {
      long base = ctx.frames().allocateContiguous(pages);
      if (base < 0) {
        throw error(Errno.ENOMEM, "vmspace_memory_object", null,
            pages + " contiguous pages are not available under the memory limit");
      }
      for (long i = 0; i < pages; i++) {
        ctx.refs().init(base + i * GuestMemory.PAGE);
      }
      return new ServiceMemoryObject(ctx, ctx, base, pages, ctx::revoke, ctx::memoryObjectReleased);
    } finally {
      ctx.gate.leave();
    }
  }

  @Override
  public HostFile openFile(Path path, boolean writable) {
    checkOpen();
    if (path == null) {
      throw error(Errno.EFAULT, "vmspace_openfile", null, "path is null");
    }
    if (Files.isDirectory(path)) {
      throw error(Errno.EINVAL, "vmspace_openfile", null, path + " is a directory");
    }
    int fd;
    try {
      fd = Libc.open(path.toString(), (writable ? Libc.O_RDWR : Libc.O_RDONLY) | Libc.O_CLOEXEC);
    } catch (LinuxException e) {
      Errno errno = switch (e.errno()) {
        case Errnos.ENOENT, Errnos.ENOTDIR, Errnos.ELOOP -> Errno.ENOENT;
        case Errnos.EACCES, Errnos.EPERM, Errnos.EROFS -> Errno.EACCES;
        case Errnos.EISDIR -> Errno.EINVAL;
        default -> Errno.EIO;
      };
      throw error(errno, "vmspace_openfile", null, path + ": " + e.getMessage());
    }
    if (!Files.isRegularFile(path)) {
      Libc.close(fd);
      throw error(Errno.EINVAL, "vmspace_openfile", null, path + " is not a regular file");
    }
    try {
      return new ServiceHostFile(ctx, ctx, path, fd, writable, ctx::createFileSlot);
    } catch (RuntimeException e) {
      Libc.close(fd);
      throw e;
    }
  }

  // ---------------------------------------------------------------- context

  @Override
  public VmspaceService inherit() {
    checkOpen();
    ctx.registry.retainContext();
    return new KvmVmspaceService(ctx, loop, canRun, info);
  }

  @Override
  public void close() {
    if (closed.compareAndSet(false, true) && ctx.registry.releaseContext()) {
      ctx.close();
    }
  }

  @Override
  public BackendInfo backendInfo() {
    return info;
  }

  @Override
  public ExitStatistics exitStatistics(VmspaceId id) {
    return withVmspace("vmspace_exit_statistics", id, vs -> vs.counters().snapshot());
  }

  @Override
  public ExitStatistics exitStatistics() {
    checkOpen();
    return ctx.exits.total();
  }

  /** The registry, for tests in this package. */
  IdRegistry<Vmspace> registry() {
    return ctx.registry;
  }

  /** The context, for tests in this package. */
  KvmContext context() {
    return ctx;
  }

  // ---------------------------------------------------------------- plumbing

  private void checkOpen() {
    if (closed.get()) {
      throw new IllegalStateException("this vmspace service handle is closed");
    }
  }

  /**
   * Looks the id up with an active reference, runs {@code body}, releases on every path; all of
   * it inside the context's {@link CallGate}, since the last release may tear the vmspace down.
   */
  private <T> T withVmspace(String call, VmspaceId id, Function<Vmspace, T> body) {
    Entry<Vmspace> entry = enter(call, id);
    try {
      return body.apply(entry.value());
    } catch (VmFailure | LinuxException | IllegalStateException e) {
      throw translate(call, id, e);
    } finally {
      leave(entry);
    }
  }

  /**
   * The first rungs of every call on an id: the handle is open, the context's gate is entered,
   * the id names a live vmspace (ENOENT otherwise), whose entry comes back with an active
   * reference. On any failure the gate is left again.
   */
  private Entry<Vmspace> enter(String call, VmspaceId id) {
    checkOpen();
    ctx.gate.enter();
    try {
      Entry<Vmspace> entry = ctx.registry.acquire(value(id));
      if (entry == null) {
        throw error(Errno.ENOENT, call, id, "no such vmspace");
      }
      return entry;
    } catch (RuntimeException e) {
      ctx.gate.leave();
      throw e;
    }
  }

  /** Releases what {@link #enter} took: the reference (which may tear the vmspace down), then the gate. */
  private void leave(Entry<Vmspace> entry) {
    try {
      entry.release();
    } finally {
      ctx.gate.leave();
    }
  }

  /** A backend failure as the contract's exception: the vmspace's own errno, or EIO. */
  private static VmspaceException translate(String call, VmspaceId id, RuntimeException e) {
    if (e instanceof VmFailure f) {
      return error(f.errno(), call, id, f.getMessage());
    }
    return new VmspaceException(Errno.EIO, call, id, "backend failure: " + e.getMessage(), e);
  }

  private static long value(VmspaceId id) {
    return id == null ? 0 : id.value();
  }

  private static VmspaceException error(Errno errno, String call, VmspaceId id, String detail) {
    return new VmspaceException(errno, call, id, detail);
  }
}
