package org.vmspace.vkernel.proc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.vmspace.vkernel.elf.ElfImage;
import org.vmspace.vkernel.elf.ElfLoader;
import org.vmspace.vkernel.fs.Stat;
import org.vmspace.vkernel.fs.Vfs;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.mem.AddressSpace;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.PathBytes;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * execve(2): finding the program (with {@code #!} interpreters), loading it into a fresh
 * vmspace and switching the thread group to it only once nothing can fail any more. As gVisor's
 * {@code task_exec.go}.
 */
public final class TaskExec {
  /**
   * How many files exec looks at before ELOOP, as Linux's exec_binprm ({@code depth > 5}): up to
   * five {@code #!} scripts in a chain, then the binary.
   */
  private static final int MAX_EXEC_DEPTH = 5;
  private static final int MAX_ARGS = 1 << 17;

  private TaskExec() {}

  /**
   * execve(2): replaces the process's program. Everything that can fail (finding the file,
   * reading its headers, mapping it, building the stack) happens in a new vmspace before the old
   * one is touched, so a failed exec returns to the caller intact.
   *
   * @throws SyscallError ENOENT, EACCES, ENOEXEC, ELOOP, E2BIG, ENOMEM, EFAULT
   */
  public static void execve(Task t, String path, List<byte[]> argv, List<byte[]> envp) {
    Kernel k = t.kernel();
    ThreadGroup p = t.process;
    if (argv.size() + envp.size() > MAX_ARGS) {
      throw new SyscallError(LinuxErrno.E2BIG);
    }
    List<byte[]> args = new ArrayList<>(argv);
    String file = path;
    Found image = null;
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      for (int depth = 0; image == null; depth++) {
        Vfs.Node node = k.vfs.resolve(file, p.cwd, true);
        if (!(node instanceof Vfs.HostNode h)) {
          throw new SyscallError(LinuxErrno.EACCES, node.guestPath());
        }
        int fd = k.vfs.openHost(h, Host.O_RDONLY | Host.O_NONBLOCK, 0); // a FIFO must not block: EACCES below
        try {
          if (Host.fstat(fd, st) < 0) {
            throw new SyscallError(LinuxErrno.EACCES, h.guestPath());
          }
          int mode = Stat.mode(st);
          if ((mode & 0170000) != Stat.S_IFREG || (mode & 0111) == 0) {
            throw new SyscallError(LinuxErrno.EACCES, h.guestPath());
          }
          // After the file is found and may be executed: Linux opens a script's interpreter in
          // load_script (ENOENT, EACCES) and counts the depth only when it comes to examine it.
          if (depth > MAX_EXEC_DEPTH) {
            throw new SyscallError(LinuxErrno.ELOOP, "too many #! interpreters");
          }
          MemorySegment head = a.allocate(Shebang.BUF_SIZE);
          long n = Host.pread(fd, head, Shebang.BUF_SIZE, 0);
          Shebang script = n < 2 ? null
              : Shebang.parse(head.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), (int) n);
          if (script != null) {
            List<byte[]> newArgs = new ArrayList<>();
            newArgs.add(PathBytes.bytes(script.interpreter()));
            if (script.argument() != null) {
              newArgs.add(PathBytes.bytes(script.argument()));
            }
            newArgs.add(PathBytes.bytes(file));
            newArgs.addAll(args.isEmpty() ? List.of() : args.subList(1, args.size()));
            args = newArgs;
            file = script.interpreter();
            continue;
          }
          if (n < 64) {
            // Not a script and shorter than an ELF header (an empty file, say): no format takes
            // it, and it is refused before a page cache is opened for it.
            throw new SyscallError(LinuxErrno.ENOEXEC, "too short for ELF");
          }
          image = Found.of(k.files.get(fd, st), fd, h.guestPath());
        } finally {
          Host.close(fd);
        }
      }
    }
    Found interp = null;
    try {
      if (image.elf.interp() != null) {
        interp = interpreter(k, p, image.elf.interp());
      }
      load(t, image, interp, path, args, envp);
    } finally {
      image.entry.release();
      if (interp != null) {
        interp.entry.release();
      }
    }
  }

  /**
   * A dynamically linked program's interpreter (PT_INTERP, normally {@code ld-linux-x86-64.so.2}),
   * looked up in the guest's root and relative to its working directory as Linux's open_exec
   * does: ENOENT when it is missing (the classic "No such file or directory" of a program whose
   * loader is absent), EACCES when it is not an executable regular file, ENOEXEC when it is not
   * an x86-64 ELF image.
   */
  private static Found interpreter(Kernel k, ThreadGroup p, String path) {
    Vfs.Node node;
    try {
      node = k.vfs.resolve(path, p.cwd, true);
    } catch (SyscallError e) {
      // Say which file is missing: the program itself exists.
      throw new SyscallError(e.errno(), "interpreter " + PathBytes.toText(path) + " not found");
    }
    if (!(node instanceof Vfs.HostNode h)) {
      throw new SyscallError(LinuxErrno.EACCES, node.guestPath());
    }
    int fd = k.vfs.openHost(h, Host.O_RDONLY | Host.O_NONBLOCK, 0);
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      if (Host.fstat(fd, st) < 0) {
        throw new SyscallError(LinuxErrno.EACCES, h.guestPath());
      }
      int mode = Stat.mode(st);
      if ((mode & 0170000) != Stat.S_IFREG || (mode & 0111) == 0) {
        throw new SyscallError(LinuxErrno.EACCES, h.guestPath());
      }
      return Found.of(k.files.get(fd, st), fd, h.guestPath());
    } catch (SyscallError e) {
      // Linux: an interpreter that is not an x86-64 ELF image is ELIBBAD, not ENOEXEC.
      throw e.errno() == LinuxErrno.ENOEXEC ? new SyscallError(LinuxErrno.ELIBBAD, e.getMessage()) : e;
    } finally {
      Host.close(fd);
    }
  }

  /**
   * An acquired file cache entry, its ELF headers and the guest path it was found at (symbolic
   * links resolved, as /proc/PID/exe and /proc/PID/maps show it).
   */
  private record Found(FileCache.Entry entry, ElfImage elf, String path) {
    /** Parses the headers of an acquired entry, releasing it if they are not an executable's. */
    static Found of(FileCache.Entry entry, int fd, String path) {
      try {
        return new Found(entry, entry.elf(fd), path);
      } catch (RuntimeException e) {
        entry.release();
        throw e;
      }
    }

    ElfLoader.Program program() {
      return new ElfLoader.Program(elf, entry.file(), path, entry.id());
    }
  }

  private static void load(Task t, Found image, Found interp, String execfn,
      List<byte[]> args, List<byte[]> envp) {
    Kernel k = t.kernel();
    ThreadGroup p = t.process;
    AddressSpace fresh = AddressSpace.create(k.vms, k.newVmspaceId(), k.memory);
    fresh.limits(p.memoryLimits());
    ElfLoader.Loaded loaded;
    try {
      byte[] rnd = new byte[16];
      k.randomBytes(rnd);
      loaded = ElfLoader.load(fresh, image.program(), interp == null ? null : interp.program(), args, envp,
          PathBytes.bytes(execfn), new ElfLoader.Ids(p.uid, p.uid, p.gid, p.gid), rnd, k.vdso, p.softLimit(Limits.RLIMIT_STACK));
      fresh.initBrk(loaded.brk());
    } catch (RuntimeException e) {
      fresh.release();
      throw e;
    }
    if (!endOtherThreads(t)) {
      fresh.release();
      throw new SyscallError(LinuxErrno.ERESTARTSYS, "the process is exiting");
    }
    // The point of no return.
    AddressSpace old = p.mm;
    TaskExit.clearChildTid(t, old);
    p.mm = fresh;
    if (old != null) {
      old.release();
    }
    t.frame.clear().rip(loaded.entry()).rsp(loaded.stackPointer());
    t.delivery().resetForExec();
    if (p.fds != null) {
      // Closing a descriptor on exec drops the process's POSIX locks on its file, as close does.
      p.fds.closeOnExec(d -> k.vfs.recordLocks().closing(p, d));
    }
    p.resetHandlersForExec();
    p.exePath = image.path;
    java.io.ByteArrayOutputStream cmd = new java.io.ByteArrayOutputStream();
    for (byte[] a : args) {
      cmd.writeBytes(a);
      cmd.write(0);
    }
    p.cmdline = cmd.toByteArray();
    String base = execfn.substring(execfn.lastIndexOf('/') + 1);
    p.comm(base);
    k.lock.lock();
    try {
      p.execed = true;
    } finally {
      k.lock.unlock();
    }
    TaskClone.releaseVfork(p);
  }

  /**
   * Linux's de_thread: the other tasks of the group end (as if killed, but the group does not
   * exit) and the caller waits until they are gone; then it takes the group's pid as its thread
   * id if it had another. False if the group started exiting meanwhile (a fatal signal wins).
   */
  private static boolean endOtherThreads(Task t) {
    Kernel k = t.kernel();
    ThreadGroup p = t.process;
    while (true) {
      List<Task> others = new ArrayList<>();
      k.lock.lock();
      try {
        for (Task o : p.threads) {
          if (o != t) {
            others.add(o);
          }
        }
      } finally {
        k.lock.unlock();
      }
      if (others.isEmpty()) {
        break;
      }
      if (p.exiting()) {
        return false;
      }
      // Marked again each round: a task another one cloned meanwhile ends too.
      others.forEach(Task::killedByExec);
      t.blocker().await(-1, (short) 0, System.nanoTime() + 2_000_000, false);
    }
    k.lock.lock();
    try {
      if (t.tid != p.pid) {
        k.tasks.remove(t.tid, t);
        t.tid = p.pid;
        k.tasks.put(p.pid, t);
      }
    } finally {
      k.lock.unlock();
    }
    return true;
  }
}
