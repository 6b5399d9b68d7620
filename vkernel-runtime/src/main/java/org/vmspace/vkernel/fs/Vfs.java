package org.vmspace.vkernel.fs;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.PathBytes;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The guest's file system: the root (a host directory), an optional private {@code /tmp}
 * layered over the root's (see {@link #mountFor}), a private {@code /dev/shm} (for POSIX shared
 * memory and named semaphores; made empty here and deleted with this object, as a tmpfs), and
 * the virtual {@code /proc} and {@code /dev}.
 *
 * <p>Resolution is done here, component by component, so that symbolic links are interpreted
 * in the guest's namespace (an absolute link restarts at the guest root, {@code ..} stops at
 * it, links into {@code /proc} or {@code /tmp} reach them). Host objects are then opened with
 * {@code openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS)} relative to their mount's directory, so
 * a path a racing guest turns into a symlink fails instead of escaping the root.
 */
public final class Vfs implements AutoCloseable {
  /** A host directory mounted at a guest path ({@code name}: "", "tmp" or "dev/shm"). */
  public record Mount(String name, int dirFd, boolean writable) {
    /** How many leading components of a guest path name the mount. */
    int depth() {
      return name.isEmpty() ? 0 : name.split("/").length;
    }
  }

  /** A resolved path. */
  public sealed interface Node permits HostNode, VirtualNode {
    String guestPath();
  }

  /** A path under a host mount: {@code rel} is relative to the mount's directory ("." for it). */
  public record HostNode(Mount mount, byte[] rel, String guestPath) implements Node {}

  /** A path in /proc or /dev. */
  public record VirtualNode(String guestPath, VirtualFs.Entry entry) implements Node {}

  private static final int MAX_SYMLINKS = 40;
  private static final long RESOLVE = Host.RESOLVE_IN_ROOT | Host.RESOLVE_NO_SYMLINKS;
  private final Mount root;
  private final Mount tmp;
  private final Mount shm;
  private final java.nio.file.Path shmDir;
  private final VirtualFs virtual;
  private final Fifos fifos = new Fifos();
  private final FileLocks recordLocks = FileLocks.mirroredOnHost(false);
  private final FileLocks flocks = FileLocks.mirroredOnHost(true);

  /**
   * @param root the host directory that is the guest's {@code /}
   * @param rootWritable whether the guest may change it
   * @param tmp a host directory for a private writable {@code /tmp}, or null
   */
  public Vfs(java.nio.file.Path root, boolean rootWritable, java.nio.file.Path tmp, ProcView procs) {
    this.root = new Mount("", openDir(root), rootWritable);
    this.tmp = tmp == null ? null : new Mount("tmp", openDir(tmp), true);
    try {
      this.shmDir = java.nio.file.Files.createTempDirectory("vkernel-shm-");
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot make the private /dev/shm", e);
    }
    this.shm = new Mount("dev/shm", openDir(shmDir), true);
    this.virtual = new VirtualFs(procs);
  }

  /** Whether these components are in the private {@code /dev/shm} (a host mount inside /dev). */
  static boolean inShm(List<String> comps) {
    return comps.size() >= 2 && comps.get(0).equals("dev") && comps.get(1).equals("shm");
  }

  private static boolean isVirtual(List<String> comps) {
    return VirtualFs.owns(comps) && !inShm(comps);
  }

  private static int openDir(java.nio.file.Path dir) {
    int fd = Host.openat2(Host.AT_FDCWD, dir.toAbsolutePath().toString().getBytes(StandardCharsets.UTF_8),
        Host.O_PATH | Host.O_DIRECTORY | Host.O_CLOEXEC, 0, 0);
    if (fd < 0) {
      throw new IllegalArgumentException("cannot open " + dir + ": " + LinuxErrno.name(-fd));
    }
    return fd;
  }

  // ---------------------------------------------------------------- resolution

  /** Joins a path to a directory and normalises "." and ".." lexically (no links). */
  static List<String> components(String path, String cwd) {
    List<String> out = new ArrayList<>();
    if (!path.startsWith("/")) {
      split(cwd, out);
    }
    split(path, out);
    return out;
  }

  private static void split(String p, List<String> out) {
    for (String c : p.split("/")) {
      if (!c.isEmpty()) {
        out.add(c);
      }
    }
  }

  private static String join(List<String> comps) {
    return comps.isEmpty() ? "/" : "/" + String.join("/", comps);
  }

  /**
   * The mount a path is in. The private {@code /tmp} is layered over the root's {@code /tmp}:
   * an entry of {@code /tmp} that the private directory has is the private one; one only the
   * root has (a checkout under the host's /tmp, say) is the root's, read-only with it; a new
   * one is created in the private directory.
   */
  private Mount mountFor(List<String> comps) {
    if (inShm(comps)) {
      return shm;
    }
    if (tmp == null || comps.isEmpty() || !comps.get(0).equals("tmp")) {
      return root;
    }
    if (comps.size() == 1) {
      return tmp;
    }
    byte[] name = PathBytes.bytes(comps.get(1));
    if (exists(tmp.dirFd(), name)) {
      return tmp;
    }
    byte[] underRoot = PathBytes.bytes("tmp/" + comps.get(1));
    return exists(root.dirFd(), underRoot) ? root : tmp;
  }

  private static boolean exists(int dirFd, byte[] rel) {
    int fd = Host.openat2(dirFd, rel, Host.O_PATH | Host.O_NOFOLLOW | Host.O_CLOEXEC, 0, RESOLVE);
    if (fd < 0) {
      return false;
    }
    Host.close(fd);
    return true;
  }

  private static byte[] relative(Mount m, List<String> comps) {
    List<String> rest = comps.subList(m.depth(), comps.size());
    return PathBytes.bytes(rest.isEmpty() ? "." : String.join("/", rest));
  }

  /**
   * Resolves a guest path.
   *
   * @param follow whether a symbolic link as the last component is followed
   * @throws SyscallError ENOENT for a missing directory on the way (a missing last component
   *     resolves, for creation), ENOTDIR, ELOOP, ENAMETOOLONG
   */
  public Node resolve(String path, String cwd, boolean follow) {
    return resolve(path, cwd, follow, true);
  }

  /**
   * {@link #resolve(String, String, boolean)}, with the one-call case ({@code direct}) or
   * always a component at a time (tests compare the two).
   */
  Node resolve(String path, String cwd, boolean follow, boolean direct) {
    if (path.isEmpty()) {
      throw new SyscallError(LinuxErrno.ENOENT);
    }
    if (path.length() > 4095) {
      throw new SyscallError(LinuxErrno.ENAMETOOLONG);
    }
    Deque<String> todo = new ArrayDeque<>();
    List<String> done = new ArrayList<>();
    if (!path.startsWith("/")) {
      split(cwd, done);
    }
    for (String c : path.split("/")) {
      if (!c.isEmpty()) {
        todo.addLast(c);
      }
    }
    boolean trailingSlash = path.endsWith("/");
    HostNode node = direct ? resolveWithoutLinks(done, todo, follow, trailingSlash) : null;
    if (node != null) {
      return node;
    }
    return resolveByComponents(done, todo, follow, trailingSlash);
  }

  /**
   * The common case in one host call: a path in the root mount, with no "." or "..", that the
   * host opens with no symbolic link anywhere on it (openat2 refuses one with {@code
   * RESOLVE_NO_SYMLINKS}; the last component too, unless it is not to be followed). Such a path
   * resolves to itself, as the walk a component at a time would find after three host calls for
   * each component. Null for anything else (a link, a missing or non-directory component, a
   * trailing slash, a mount or a virtual file system on the way): the walk decides, and reports
   * the error.
   */
  private HostNode resolveWithoutLinks(List<String> cwd, Deque<String> rest, boolean follow, boolean trailingSlash) {
    if (trailingSlash || rest.isEmpty()) {
      return null;
    }
    List<String> comps = new ArrayList<>(cwd.size() + rest.size());
    comps.addAll(cwd);
    comps.addAll(rest);
    String first = comps.get(0);
    if (first.equals("proc") || first.equals("dev") || first.equals("sys") || (tmp != null && first.equals("tmp"))) {
      return null;
    }
    for (String c : comps) {
      if (c.equals(".") || c.equals("..")) {
        return null;
      }
    }
    byte[] rel = relative(root, comps);
    long flags = Host.O_PATH | Host.O_CLOEXEC | (follow ? 0 : Host.O_NOFOLLOW);
    int fd = Host.openat2(root.dirFd(), rel, flags, 0, RESOLVE);
    if (fd < 0) {
      return null;
    }
    Host.close(fd);
    return new HostNode(root, rel, join(comps));
  }

  /** Resolves a path a component at a time, following links ({@link #resolve}). */
  private Node resolveByComponents(List<String> done, Deque<String> todo, boolean follow, boolean trailingSlash) {
    int links = 0;
    while (!todo.isEmpty()) {
      String c = todo.pollFirst();
      if (c.equals(".")) {
        continue;
      }
      if (c.equals("..")) {
        if (!done.isEmpty()) {
          done.remove(done.size() - 1);
        }
        continue;
      }
      done.add(c);
      boolean last = todo.isEmpty();
      if (last && !follow && !trailingSlash) {
        break;
      }
      String target;
      if (isVirtual(done)) {
        VirtualFs.Entry e = virtual.lookup(done);
        if (e == null) {
          if (last) {
            break;
          }
          throw new SyscallError(LinuxErrno.ENOENT, join(done));
        }
        target = e.linkTarget();
        if (target == null) {
          if (!last && !e.isDirectory()) {
            throw new SyscallError(LinuxErrno.ENOTDIR, join(done));
          }
          continue;
        }
      } else {
        target = hostLinkTarget(done, last);
        if (target == null) {
          continue;
        }
      }
      if (++links > MAX_SYMLINKS) {
        throw new SyscallError(LinuxErrno.ELOOP);
      }
      done.remove(done.size() - 1);
      if (target.startsWith("/")) {
        done.clear();
      }
      List<String> expanded = new ArrayList<>();
      split(target, expanded);
      for (int i = expanded.size() - 1; i >= 0; i--) {
        todo.addFirst(expanded.get(i));
      }
    }
    String guestPath = join(done);
    if (isVirtual(done)) {
      return new VirtualNode(guestPath, virtual.lookup(done));
    }
    Mount m = mountFor(done);
    return new HostNode(m, relative(m, done), guestPath);
  }

  /**
   * If the host object at {@code comps} is a symbolic link, its target; null if it is not one
   * (or does not exist and is last).
   */
  private String hostLinkTarget(List<String> comps, boolean last) {
    Mount m = mountFor(comps);
    byte[] rel = relative(m, comps);
    int fd = Host.openat2(m.dirFd(), rel, Host.O_PATH | Host.O_NOFOLLOW | Host.O_CLOEXEC, 0, RESOLVE);
    if (fd < 0) {
      if (-fd == LinuxErrno.ENOENT && last) {
        return null;
      }
      throw new SyscallError(-fd, join(comps));
    }
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
      HostFileDescription.check(Host.fstat(fd, st));
      int type = Stat.mode(st) & 0170000;
      if (type == Stat.S_IFLNK) {
        MemorySegment buf = a.allocate(4096);
        long n = HostFileDescription.check(Host.readlinkat(fd, new byte[0], buf, 4096));
        return PathBytes.of(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE));
      }
      if (type != Stat.S_IFDIR && !last) {
        throw new SyscallError(LinuxErrno.ENOTDIR, join(comps));
      }
      return null;
    } finally {
      Host.close(fd);
    }
  }

  // ---------------------------------------------------------------- host operations

  /**
   * openat2 on a resolved host node.
   *
   * @return the host descriptor
   */
  public int openHost(HostNode n, int flags, int mode) {
    if ((flags & (Host.O_ACCMODE | Host.O_CREAT | Host.O_TRUNC)) != 0 && !n.mount().writable()
        && ((flags & Host.O_ACCMODE) != Host.O_RDONLY || (flags & (Host.O_CREAT | Host.O_TRUNC)) != 0)) {
      // Read-only root: creating or opening for writing fails, except for objects that exist
      // and are not regular files (devices, fifos) which the guest may write (as on a ro mount
      // with devices).
      int probe = Host.openat2(n.mount().dirFd(), n.rel(), Host.O_PATH | Host.O_CLOEXEC, 0, RESOLVE);
      if (probe < 0) {
        throw new SyscallError((flags & Host.O_CREAT) != 0 ? LinuxErrno.EROFS : -probe, n.guestPath());
      }
      try (Arena a = Arena.ofConfined()) {
        MemorySegment st = a.allocate(Host.STAT_SIZE, 8);
        Host.fstat(probe, st);
        int type = Stat.mode(st) & 0170000;
        if (type == Stat.S_IFREG || type == Stat.S_IFDIR || (flags & Host.O_TRUNC) != 0) {
          throw new SyscallError(LinuxErrno.EROFS, n.guestPath());
        }
      } finally {
        Host.close(probe);
      }
    }
    int fd = Host.openat2(n.mount().dirFd(), n.rel(), flags | Host.O_CLOEXEC, (flags & Host.O_CREAT) != 0 ? mode : 0, RESOLVE);
    if (fd < 0) {
      throw new SyscallError(-fd, n.guestPath());
    }
    return fd;
  }

  /** The FIFO ends the guest has open. */
  public Fifos fifos() {
    return fifos;
  }

  /** POSIX record locks and open-file-description locks (one table: they conflict). */
  public FileLocks recordLocks() {
    return recordLocks;
  }

  /** flock(2) locks (apart: they do not conflict with record locks, as on Linux). */
  public FileLocks flocks() {
    return flocks;
  }

  /** An O_PATH descriptor of the node (not following a final link). */
  public int openPath(HostNode n) {
    int fd = Host.openat2(n.mount().dirFd(), n.rel(), Host.O_PATH | Host.O_NOFOLLOW | Host.O_CLOEXEC, 0, RESOLVE);
    if (fd < 0) {
      throw new SyscallError(-fd, n.guestPath());
    }
    return fd;
  }

  /** The parent directory of a node (an O_PATH descriptor) and its last name. */
  public record Parent(int dirFd, byte[] name, Mount mount) implements AutoCloseable {
    @Override
    public void close() {
      Host.close(dirFd);
    }
  }

  /**
   * What a caller of {@link #parent} does to the name, which decides Linux's error for the root
   * of a mount ({@code /}, {@code /tmp}: they have no parent here) and whether an existing name
   * is EEXIST before a read-only mount is EROFS.
   */
  public enum Change {
    /** mkdir, symlink, link's new name, mknod: EEXIST for a mount's root or any existing name. */
    CREATE(LinuxErrno.EEXIST),
    /** unlink: EISDIR for a mount's root. */
    UNLINK(LinuxErrno.EISDIR),
    /** rmdir, rename: EBUSY for a mount's root. */
    REMOVE_OR_RENAME(LinuxErrno.EBUSY),
    /** link's existing name: EPERM for a mount's root (a directory). */
    LINK_SOURCE(LinuxErrno.EPERM);

    private final int atMountRoot;

    Change(int atMountRoot) {
      this.atMountRoot = atMountRoot;
    }
  }

  /**
   * Opens the parent of a (not followed) path, for mkdir, unlink and the like, checking in
   * Linux's order: a mount's root, then (for a creation) an existing name, then EROFS.
   */
  public Parent parent(String path, String cwd, boolean needWrite, Change change) {
    Node n = resolve(path, cwd, false);
    if (!(n instanceof HostNode h)) {
      throw new SyscallError(needWrite ? LinuxErrno.EACCES : LinuxErrno.EPERM, n.guestPath());
    }
    String rel = PathBytes.of(h.rel());
    if (rel.equals(".")) {
      throw new SyscallError(change.atMountRoot, h.guestPath());
    }
    if (needWrite && !h.mount().writable()) {
      if (change == Change.CREATE && exists(h.mount().dirFd(), h.rel())) {
        throw new SyscallError(LinuxErrno.EEXIST, h.guestPath());
      }
      throw new SyscallError(LinuxErrno.EROFS, h.guestPath());
    }
    int slash = rel.lastIndexOf('/');
    byte[] dir = PathBytes.bytes(slash < 0 ? "." : rel.substring(0, slash));
    byte[] name = PathBytes.bytes(rel.substring(slash + 1));
    int fd = Host.openat2(h.mount().dirFd(), dir, Host.O_PATH | Host.O_DIRECTORY | Host.O_CLOEXEC, 0, RESOLVE);
    if (fd < 0) {
      throw new SyscallError(-fd, h.guestPath());
    }
    return new Parent(fd, name, h.mount());
  }

  /**
   * The mount of the directory that holds {@code n}: its own, except for a mount's root, which
   * the root holds ({@code /} itself included), as Linux compares mounts for rename and link.
   */
  public Mount holder(HostNode n) {
    return n.rel().length == 1 && n.rel()[0] == '.' ? root : n.mount();
  }

  /** The virtual file systems (for opening their files). */
  public VirtualFs virtual() {
    return virtual;
  }

  @Override
  public void close() {
    Host.close(root.dirFd());
    if (tmp != null) {
      Host.close(tmp.dirFd());
    }
    Host.close(shm.dirFd());
    deleteTree(shmDir);
  }

  /**
   * Removes a private mount's host directory and what the guest left in it, as far as it can:
   * a file the guest made unremovable stays for the host's temp cleaner.
   */
  public static void deleteTree(java.nio.file.Path dir) {
    try (var all = java.nio.file.Files.walk(dir)) {
      for (java.nio.file.Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
        try {
          java.nio.file.Files.deleteIfExists(p);
        } catch (java.io.IOException e) {
          // best effort, as above
        }
      }
    } catch (java.io.IOException | java.io.UncheckedIOException e) {
      // same
    }
  }
}
