package org.vmspace.vkernel.syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import org.vmspace.api.HostFile;
import org.vmspace.api.Prot;
import org.vmspace.api.VmspaceException;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.mem.AddressSpace;
import org.vmspace.vkernel.mem.FileId;
import org.vmspace.vkernel.proc.FileCache;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/** mmap, munmap, mprotect, brk, mremap, madvise, msync: see {@link AddressSpace}. */
final class MemoryCalls {
  private MemoryCalls() {}

  static long munmap(Call c) {
    c.process.mm().munmap(c.a(0), c.a(1));
    return 0;
  }

  static long mprotect(Call c) {
    c.process.mm().mprotect(c.a(0), c.a(1), c.i(2));
    return 0;
  }

  static long brk(Call c) {
    return c.process.mm().brk(c.a(0));
  }

  static long mremap(Call c) {
    return c.process.mm().mremap(c.a(0), c.a(1), c.a(2), c.i(3), c.a(4));
  }

  static long madvise(Call c) {
    c.process.mm().madvise(c.a(0), c.a(1), c.i(2));
    return 0;
  }

  static long msync(Call c) {
    if ((c.a(0) & 4095) != 0 || (c.i(2) & ~7) != 0 || (c.i(2) & 5) == 5) {
      throw new SyscallError(LinuxErrno.EINVAL);
    }
    // Shared file mappings are the host's page cache: there is nothing to flush.
    return 0;
  }

  /** The mapped file's device and inode (fstat of the descriptor). */
  private static FileId fileId(HostFileDescription h) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      if (Host.fstat(h.hostFd(), st) != 0) {
        throw new SyscallError(LinuxErrno.EIO, "fstat of a mapped file failed");
      }
      return new FileId(st.get(ValueLayout.JAVA_LONG, 0), st.get(ValueLayout.JAVA_LONG, 8));
    }
  }

  static long mmap(Call c) {
    long addr = c.a(0);
    long len = c.a(1);
    int prot = c.i(2);
    int flags = c.i(3);
    int fd = c.i(4);
    long offset = c.a(5);
    AddressSpace mm = c.process.mm();
    if ((flags & AddressSpace.MAP_ANONYMOUS) != 0) {
      return mm.mmap(addr, len, prot, flags, null, 0, "");
    }
    FileDescription d = c.fds().get(fd);
    if (!(d instanceof HostFileDescription h) || !h.isRegular()) {
      throw new SyscallError(LinuxErrno.ENODEV, "only regular files can be mapped");
    }
    boolean shared = (flags & AddressSpace.MAP_TYPE) != AddressSpace.MAP_PRIVATE;
    boolean writeShared = shared && (prot & Prot.PROT_WRITE) != 0;
    if (!d.readable() || (writeShared && (!d.writable() || !h.mountWritable()))) {
      throw new SyscallError(LinuxErrno.EACCES);
    }
    if (!shared) {
      return mapPrivate(c, h, addr, len, prot, flags, offset, d.path());
    }
    HostFile file;
    try {
      file = c.kernel.vms().openFile(Path.of("/proc/self/fd/" + h.hostFd()), writeShared);
    } catch (VmspaceException e) {
      throw new SyscallError(e.errno().code(), e.getMessage());
    }
    try {
      FileId id = fileId(h);
      // The futexes key shared words by file, so processes mapping it share them.
      c.kernel.futexes().identify(file, id.dev(), id.ino());
      return mm.mmap(addr, len, prot, flags, file, offset, d.path(), id);
    } finally {
      // The mapping holds its own reference to the file.
      file.close();
    }
  }

  /**
   * A private file mapping through the kernel's file cache: every process mapping the same
   * version of a file (a shared library's text, above all) shares one read-only page cache and
   * copies a page only when it writes it.
   */
  private static long mapPrivate(Call c, HostFileDescription h, long addr, long len, int prot, int flags,
      long offset, String path) {
    FileCache.Entry entry;
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      if (Host.fstat(h.hostFd(), st) != 0) {
        throw new SyscallError(LinuxErrno.EIO, "fstat of a mapped file failed");
      }
      entry = c.kernel.files().get(h.hostFd(), st);
    }
    try {
      return c.process.mm().mmap(addr, len, prot, flags, entry.file(), offset, path, entry.id());
    } finally {
      entry.release();
    }
  }
}
