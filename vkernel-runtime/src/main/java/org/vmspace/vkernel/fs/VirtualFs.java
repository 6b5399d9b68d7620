package org.vmspace.vkernel.fs;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.PathBytes;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The virtual {@code /proc} and {@code /dev}.
 *
 * <p>{@code /proc}: {@code self}, {@code mounts}, {@code cpuinfo}, {@code meminfo}, and per
 * process {@code exe}, {@code cwd}, {@code root}, {@code fd/}, {@code cmdline}, {@code comm}, {@code stat},
 * {@code status}, {@code maps}. {@code /dev}: {@code null zero full random urandom tty} (the
 * host's devices), {@code stdin stdout stderr fd} (links into {@code /proc/self/fd}) and {@code
 * shm}, listed here but a host mount of {@link Vfs}.
 */
public final class VirtualFs {
  /** One virtual object. */
  public interface Entry {
    /** Whether it is a directory. */
    default boolean isDirectory() {
      return false;
    }

    /** For a symbolic link, its target (followed by path resolution); null otherwise. */
    default String linkTarget() {
      return null;
    }

    /** What readlink(2) returns; null if it is not a link. */
    default String readlinkText() {
      return linkTarget();
    }

    /** The names in a directory. */
    default List<String> list() {
      throw new SyscallError(LinuxErrno.ENOTDIR);
    }

    /** Opens it. */
    FileDescription open(int flags, String guestPath);

    /** Fills a stat, as stat(2) sees it. */
    void stat(MemorySegment st, String guestPath);

    /**
     * Fills a stat as lstat(2) sees it: for a link that resolution does not follow (a
     * descriptor's own entry under /proc/PID/fd), the link itself rather than what it refers to.
     */
    default void lstat(MemorySegment st, String guestPath) {
      stat(st, guestPath);
    }
  }

  private static final String[] DEVICES = {"null", "zero", "full", "random", "urandom", "tty"};
  private final ProcView procs;

  VirtualFs(ProcView procs) {
    this.procs = procs;
  }

  /** The CPU lists of /sys the kernel answers itself; the rest of /sys is the host's. */
  private static final List<String> SYS_CPU_LISTS = List.of("online", "possible", "present");

  static boolean owns(List<String> comps) {
    return !comps.isEmpty() && (comps.get(0).equals("proc") || comps.get(0).equals("dev") || isSysCpuList(comps));
  }

  private static boolean isSysCpuList(List<String> comps) {
    return comps.size() == 5 && comps.subList(0, 4).equals(List.of("sys", "devices", "system", "cpu"))
        && SYS_CPU_LISTS.contains(comps.get(4));
  }

  static long inode(String guestPath) {
    return 0x1_0000_0000L | (guestPath.hashCode() & 0xFFFF_FFFFL);
  }

  /** The entry at these components (which start with proc or dev), or null. */
  Entry lookup(List<String> comps) {
    if (comps.get(0).equals("dev")) {
      return lookupDev(comps);
    }
    if (isSysCpuList(comps)) {
      // glibc's get_nprocs reads it; it must agree with sched_getaffinity, which Go reads.
      return file(() -> procs.cpus() == 1 ? "0\n" : "0-" + (procs.cpus() - 1) + "\n");
    }
    return lookupProc(comps);
  }

  private Entry lookupDev(List<String> comps) {
    if (comps.size() == 1) {
      List<String> names = new ArrayList<>(List.of(DEVICES));
      names.addAll(List.of("stdin", "stdout", "stderr", "fd", "shm"));
      return dir(names);
    }
    if (comps.size() > 2) {
      return null;
    }
    String name = comps.get(1);
    return switch (name) {
      case "stdin" -> link("/proc/self/fd/0");
      case "stdout" -> link("/proc/self/fd/1");
      case "stderr" -> link("/proc/self/fd/2");
      case "fd" -> link("/proc/self/fd");
      default -> List.of(DEVICES).contains(name) ? device("/dev/" + name) : null;
    };
  }

  private Entry lookupProc(List<String> comps) {
    if (comps.size() == 1) {
      return dir(() -> {
        List<String> names = new ArrayList<>(List.of("self", "thread-self", "mounts", "cpuinfo", "meminfo"));
        for (int pid : procs.pids()) {
          names.add(Integer.toString(pid));
        }
        return names;
      });
    }
    String name = comps.get(1);
    if (comps.size() == 2) {
      switch (name) {
        case "self":
          return link(Integer.toString(procs.selfPid()));
        case "thread-self":
          return link(procs.selfPid() + "/task/" + procs.selfTid());
        case "mounts":
          return file(() -> mounts());
        case "cpuinfo":
          return file(procs::cpuinfo);
        case "meminfo":
          return file(procs::meminfo);
        default:
          break;
      }
    }
    int pid = number(name);
    if (pid < 0) {
      return null;
    }
    ProcView.ProcInfo p = procs.process(pid);
    if (p == null) {
      return null;
    }
    if (comps.size() == 2) {
      return dir(List.of("exe", "cwd", "root", "fd", "cmdline", "comm", "stat", "status", "maps", "task"));
    }
    String what = comps.get(2);
    if (what.equals("task")) {
      return lookupTask(p, comps);
    }
    if (comps.size() == 3) {
      return switch (what) {
        case "exe" -> link(p.exePath());
        case "cwd" -> link(p.cwd());
        case "root" -> link("/");
        case "cmdline" -> file(() -> new String(p.cmdline(), StandardCharsets.ISO_8859_1));
        case "comm" -> file(() -> p.comm() + "\n");
        case "stat" -> file(p::statLine);
        case "status" -> file(p::status);
        case "maps" -> file(p::maps);
        case "fd" -> dir(() -> {
          // Listed when read, not when opened: the directory's own descriptor is in it.
          List<String> fds = new ArrayList<>();
          for (int fd : p.fds().keySet()) {
            fds.add(Integer.toString(fd));
          }
          return fds;
        });
        default -> null;
      };
    }
    if (comps.size() == 4 && what.equals("fd")) {
      int fd = number(comps.get(3));
      FileDescription d = fd < 0 ? null : p.fds().get(fd);
      return d == null ? null : fdEntry(d);
    }
    return null;
  }

  /**
   * /proc/PID/task and /proc/PID/task/TID/...: a directory of thread ids, each showing what
   * /proc/PID shows (the process's, not the thread's own, stat and status).
   */
  private Entry lookupTask(ProcView.ProcInfo p, List<String> comps) {
    if (comps.size() == 3) {
      return dir(() -> p.tids().stream().map(String::valueOf).toList());
    }
    int tid = number(comps.get(3));
    if (tid < 0 || !p.tids().contains(tid)) {
      return null;
    }
    List<String> inner = new ArrayList<>(comps.subList(0, 2));
    inner.addAll(comps.subList(4, comps.size()));
    if (inner.size() == 2) {
      return dir(List.of("exe", "cwd", "root", "fd", "cmdline", "comm", "stat", "status", "maps"));
    }
    return inner.get(2).equals("task") ? null : lookupProc(inner);
  }

  /**
   * A /proc name as a pid, tid or descriptor number, as Linux's name_to_int reads it: decimal
   * digits only (no sign, no blank), no leading zero unless it is {@code 0} itself; -1 for any
   * other name and for a number past {@code Integer.MAX_VALUE} (no pid, tid or descriptor is that
   * large). {@code Integer.parseInt} would take {@code +1} and {@code 007} for 1 and 7, names under
   * which Linux's /proc has nothing.
   */
  static int number(String name) {
    if (name.isEmpty() || name.length() > 10 || (name.length() > 1 && name.charAt(0) == '0')) {
      return -1;
    }
    long n = 0;
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      n = n * 10 + (c - '0');
    }
    return n > Integer.MAX_VALUE ? -1 : (int) n;
  }

  private static String mounts() {
    return "/dev/root / rootfs ro 0 0\nproc /proc proc rw,nosuid,nodev,noexec 0 0\n"
        + "tmpfs /tmp tmpfs rw,nosuid,nodev 0 0\ndevtmpfs /dev devtmpfs rw,nosuid 0 0\n"
        + "tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0\n";
  }

  // ---------------------------------------------------------------- entry kinds

  private static Entry dir(List<String> names) {
    return dir(() -> names);
  }

  private static Entry dir(java.util.function.Supplier<List<String>> names) {
    return new Entry() {
      @Override
      public boolean isDirectory() {
        return true;
      }

      @Override
      public List<String> list() {
        return names.get();
      }

      @Override
      public FileDescription open(int flags, String guestPath) {
        if ((flags & Host.O_ACCMODE) != Host.O_RDONLY) {
          throw new SyscallError(LinuxErrno.EISDIR);
        }
        return new VirtualDirectory(guestPath, names);
      }

      @Override
      public void stat(MemorySegment st, String guestPath) {
        Stat.fill(st, inode(guestPath), Stat.S_IFDIR | 0555, 2, 0);
      }
    };
  }

  private static Entry link(String target) {
    return new Entry() {
      @Override
      public String linkTarget() {
        return target;
      }

      @Override
      public FileDescription open(int flags, String guestPath) {
        throw new SyscallError(LinuxErrno.ELOOP);
      }

      @Override
      public void stat(MemorySegment st, String guestPath) {
        Stat.fill(st, inode(guestPath), Stat.S_IFLNK | 0777, 1, target.length());
      }
    };
  }

  private static Entry file(java.util.function.Supplier<String> content) {
    return new Entry() {
      @Override
      public FileDescription open(int flags, String guestPath) {
        if ((flags & Host.O_ACCMODE) != Host.O_RDONLY) {
          throw new SyscallError(LinuxErrno.EACCES);
        }
        return new VirtualFile(guestPath, content.get().getBytes(StandardCharsets.ISO_8859_1), inode(guestPath));
      }

      @Override
      public void stat(MemorySegment st, String guestPath) {
        Stat.fill(st, inode(guestPath), Stat.S_IFREG | 0444, 1, 0);
      }
    };
  }

  /** A host device node, opened by its host path. */
  private static Entry device(String hostPath) {
    return new Entry() {
      @Override
      public FileDescription open(int flags, String guestPath) {
        int fd = Host.openat2(Host.AT_FDCWD, hostPath.getBytes(StandardCharsets.UTF_8),
            (flags & ~Host.O_CREAT) | Host.O_CLOEXEC, 0, 0);
        if (fd < 0) {
          throw new SyscallError(-fd, guestPath);
        }
        return new HostFileDescription(fd, guestPath, flags & (Host.O_ACCMODE | Host.O_APPEND | Host.O_NONBLOCK));
      }

      @Override
      public void stat(MemorySegment st, String guestPath) {
        int r = Host.fstatat(Host.AT_FDCWD, hostPath.getBytes(StandardCharsets.UTF_8), st, 0);
        if (r < 0) {
          throw new SyscallError(-r, guestPath);
        }
      }
    };
  }

  /**
   * /proc/PID/fd/N: a link to the file's path when it has one in the guest's namespace;
   * otherwise (a pipe, a virtual file) opening it refers to the same open file, as Linux's
   * magic links do.
   */
  private static Entry fdEntry(FileDescription d) {
    String path = d.path();
    boolean real = path.startsWith("/");
    return new Entry() {
      @Override
      public String linkTarget() {
        return real ? path : null;
      }

      @Override
      public String readlinkText() {
        return path;
      }

      @Override
      public FileDescription open(int flags, String guestPath) {
        // The process that has it may close it meanwhile (the table was read without a reference).
        if (!d.tryRetain()) {
          throw new SyscallError(LinuxErrno.ENOENT, guestPath);
        }
        return d;
      }

      @Override
      public void stat(MemorySegment st, String guestPath) {
        if (!d.tryRetain()) {
          throw new SyscallError(LinuxErrno.ENOENT, guestPath);
        }
        try {
          d.fstat(st);
        } finally {
          d.release();
        }
      }

      /** As Linux: a link whose owner bits are the access mode (lr-x------ read-only), size 64. */
      @Override
      public void lstat(MemorySegment st, String guestPath) {
        int mode = (d.readable() ? 0500 : 0) | (d.writable() ? 0300 : 0);
        Stat.fill(st, inode(guestPath), Stat.S_IFLNK | mode, 1, 64);
      }
    };
  }

  /** A directory listing made up when opened. */
  static final class VirtualDirectory extends FileDescription {
    private final String path;
    private final java.util.function.Supplier<List<String>> source;
    private List<String> names;
    private int next;

    VirtualDirectory(String path, java.util.function.Supplier<List<String>> source) {
      super(0);
      this.path = path;
      this.source = source;
    }

    /** The names, taken at the first read (or after a rewind), as Linux lists /proc. */
    private List<String> names() {
      if (names == null) {
        List<String> all = new ArrayList<>(List.of(".", ".."));
        all.addAll(source.get());
        names = all;
      }
      return names;
    }

    @Override
    public String path() {
      return path;
    }

    @Override
    public void fstat(MemorySegment st) {
      Stat.fill(st, inode(path), Stat.S_IFDIR | 0555, 2, 0);
    }

    @Override
    public synchronized long getdents64(MemorySegment buf, long len) {
      List<String> names = names();
      long at = 0;
      while (next < names.size()) {
        byte[] name = PathBytes.bytes(names.get(next));
        int reclen = (19 + name.length + 1 + 7) & ~7;
        if (at + reclen > len) {
          if (at == 0) {
            throw new SyscallError(LinuxErrno.EINVAL);
          }
          break;
        }
        buf.set(ValueLayout.JAVA_LONG_UNALIGNED, at, inode(path + "/" + names.get(next)));
        buf.set(ValueLayout.JAVA_LONG_UNALIGNED, at + 8, next + 1);
        buf.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 16, (short) reclen);
        buf.set(ValueLayout.JAVA_BYTE, at + 18, (byte) 0); // DT_UNKNOWN: callers stat
        MemorySegment.copy(MemorySegment.ofArray(name), 0, buf, at + 19, name.length);
        buf.asSlice(at + 19 + name.length, reclen - 19 - name.length).fill((byte) 0);
        at += reclen;
        next++;
      }
      return at;
    }

    @Override
    public synchronized long lseek(long offset, int whence) {
      if (whence != 0 || offset < 0) {
        throw new SyscallError(LinuxErrno.EINVAL);
      }
      if (offset == 0) {
        names = null;
      }
      next = (int) Math.min(offset, names().size());
      return next;
    }
  }

  /**
   * A /proc/cpuinfo for {@code cpus} CPUs made from the host's: its first blocks, or its blocks
   * repeated when the guests see more CPUs than the host has, numbered 0 to cpus - 1.
   */
  public static String cpuinfo(String host, int cpus) {
    List<String> blocks = new ArrayList<>();
    for (String b : host.split("\n\n")) {
      if (!b.isBlank()) {
        blocks.add(b.strip());
      }
    }
    if (blocks.isEmpty()) {
      return "";
    }
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < cpus; i++) {
      String block = blocks.get(i % blocks.size()).replaceFirst("(?m)^processor\t: \\d+$", "processor\t: " + i);
      out.append(block).append("\n\n");
    }
    return out.toString();
  }

  /** The host's /proc/cpuinfo, for ProcView implementations. */
  public static String hostCpuinfo() {
    try {
      return Files.readString(Path.of("/proc/cpuinfo"), StandardCharsets.ISO_8859_1);
    } catch (java.io.IOException e) {
      return "";
    }
  }

}
