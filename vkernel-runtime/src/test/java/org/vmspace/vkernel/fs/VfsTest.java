package org.vmspace.vkernel.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/** Path resolution in the guest's namespace: links, "..", mounts, and no way out of the root. */
class VfsTest {
  @TempDir Path dir;
  Path root;
  Path tmp;
  Path secret;
  Vfs vfs;

  @BeforeEach
  void setUp() throws Exception {
    root = Files.createDirectories(dir.resolve("root"));
    tmp = Files.createDirectories(dir.resolve("tmp"));
    secret = Files.writeString(dir.resolve("secret"), "outside\n");
    Files.createDirectories(root.resolve("etc"));
    Files.createDirectories(root.resolve("usr/bin"));
    Files.writeString(root.resolve("etc/hostname"), "inside\n");
    Files.writeString(root.resolve("usr/bin/tool"), "tool\n");
    Files.createSymbolicLink(root.resolve("bin"), Path.of("usr/bin"));
    Files.createSymbolicLink(root.resolve("abs"), secret);
    Files.createSymbolicLink(root.resolve("up"), Path.of("../../../../../../../../" + secret));
    Files.createSymbolicLink(root.resolve("etc/rootlink"), Path.of("/etc/hostname"));
    Files.createSymbolicLink(root.resolve("loop1"), Path.of("loop2"));
    Files.createSymbolicLink(root.resolve("loop2"), Path.of("loop1"));
    Files.createSymbolicLink(root.resolve("totmp"), Path.of("/tmp/x"));
    Files.writeString(tmp.resolve("x"), "in tmp\n");
    ProcView procs = mock(ProcView.class);
    when(procs.selfPid()).thenReturn(2);
    when(procs.pids()).thenReturn(List.of(2));
    ProcView.ProcInfo self = mock(ProcView.ProcInfo.class);
    when(self.cwd()).thenReturn("/etc");
    when(self.exePath()).thenReturn("/usr/bin/tool");
    when(procs.process(2)).thenReturn(self);
    vfs = new Vfs(root, false, tmp, procs);
  }

  @AfterEach
  void tearDown() throws Exception {
    vfs.close();
    // The links point out of the temporary directory on purpose; remove them before JUnit
    // cleans it (it warns about such links).
    try (var all = Files.walk(dir)) {
      for (Path p : all.filter(Files::isSymbolicLink).toList()) {
        Files.delete(p);
      }
    }
  }

  private String read(String path, String cwd) {
    Vfs.Node n = vfs.resolve(path, cwd, true);
    assertThat(n).isInstanceOf(Vfs.HostNode.class);
    int fd = vfs.openHost((Vfs.HostNode) n, Host.O_RDONLY, 0);
    try (Arena a = Arena.ofConfined()) {
      MemorySegment buf = a.allocate(4096);
      long len = Host.read(fd, buf, 4096);
      return new String(buf.asSlice(0, len).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
    } finally {
      Host.close(fd);
    }
  }

  @Test
  void relativeAndAbsolutePathsAndLinksInsideTheRoot() {
    assertThat(read("/etc/hostname", "/")).isEqualTo("inside\n");
    assertThat(read("hostname", "/etc")).isEqualTo("inside\n");
    assertThat(read("/bin/tool", "/")).isEqualTo("tool\n");
    assertThat(read("/etc/rootlink", "/")).isEqualTo("inside\n");
    assertThat(vfs.resolve("/bin/tool", "/", true).guestPath()).isEqualTo("/usr/bin/tool");
    assertThat(vfs.resolve("/bin", "/", false).guestPath()).isEqualTo("/bin");
  }

  @Test
  void dotDotStopsAtTheRoot() {
    assertThat(read("/../../../../etc/hostname", "/")).isEqualTo("inside\n");
    assertThat(read("../../../../etc/hostname", "/etc")).isEqualTo("inside\n");
    assertThat(vfs.resolve("/..", "/", true).guestPath()).isEqualTo("/");
  }

  @Test
  void linksOutOfTheRootStayInIt() {
    // Absolute: the target is looked up under the guest's root, where it does not exist.
    assertThatThrownBy(() -> read("/abs", "/")).isInstanceOfSatisfying(SyscallError.class,
        e -> assertThat(e.errno()).isEqualTo(LinuxErrno.ENOENT));
    assertThatThrownBy(() -> read("/up", "/")).isInstanceOfSatisfying(SyscallError.class,
        e -> assertThat(e.errno()).isEqualTo(LinuxErrno.ENOENT));
  }

  @Test
  void procSelfRootIsTheGuestsRoot() {
    assertThat(read("/proc/self/root/etc/hostname", "/")).isEqualTo("inside\n");
    assertThatThrownBy(() -> read("/proc/self/root" + secret, "/")).isInstanceOf(SyscallError.class);
  }

  @Test
  void linksIntoTheTmpMountReachIt() {
    assertThat(read("/totmp", "/")).isEqualTo("in tmp\n");
    assertThat(read("/tmp/x", "/")).isEqualTo("in tmp\n");
  }

  @Test
  void loopsAreEloopAndFilesAreNotDirectories() {
    assertThatThrownBy(() -> vfs.resolve("/loop1", "/", true)).isInstanceOfSatisfying(SyscallError.class,
        e -> assertThat(e.errno()).isEqualTo(LinuxErrno.ELOOP));
    assertThatThrownBy(() -> vfs.resolve("/etc/hostname/x", "/", true)).isInstanceOfSatisfying(SyscallError.class,
        e -> assertThat(e.errno()).isEqualTo(LinuxErrno.ENOTDIR));
    assertThatThrownBy(() -> vfs.resolve("/nodir/x", "/", true)).isInstanceOfSatisfying(SyscallError.class,
        e -> assertThat(e.errno()).isEqualTo(LinuxErrno.ENOENT));
  }

  @Test
  void aReadOnlyRootRefusesWritesButTmpTakesThem() {
    Vfs.HostNode etc = (Vfs.HostNode) vfs.resolve("/etc/new", "/", true);
    assertThatThrownBy(() -> vfs.openHost(etc, Host.O_WRONLY | Host.O_CREAT, 0644))
        .isInstanceOfSatisfying(SyscallError.class, e -> assertThat(e.errno()).isEqualTo(LinuxErrno.EROFS));
    Vfs.HostNode host = (Vfs.HostNode) vfs.resolve("/etc/hostname", "/", true);
    assertThatThrownBy(() -> vfs.openHost(host, Host.O_RDWR, 0))
        .isInstanceOfSatisfying(SyscallError.class, e -> assertThat(e.errno()).isEqualTo(LinuxErrno.EROFS));
    assertThatThrownBy(() -> vfs.parent("/etc/x", "/", true, Vfs.Change.CREATE))
        .isInstanceOfSatisfying(SyscallError.class, e -> assertThat(e.errno()).isEqualTo(LinuxErrno.EROFS));
    Vfs.HostNode t = (Vfs.HostNode) vfs.resolve("/tmp/new", "/", true);
    Host.close(vfs.openHost(t, Host.O_WRONLY | Host.O_CREAT, 0644));
    assertThat(tmp.resolve("new")).exists();
    assertThat(root.resolve("etc/new")).doesNotExist();
  }

  @Test
  void changingAMountsRootOrAnExistingNameFailsAsOnLinux() {
    // mkdir -p /tmp/x starts with mkdir("/") and mkdir("/tmp"): EEXIST, which it skips.
    assertErrno(() -> vfs.parent("/", "/", true, Vfs.Change.CREATE), LinuxErrno.EEXIST);
    assertErrno(() -> vfs.parent("/tmp", "/", true, Vfs.Change.CREATE), LinuxErrno.EEXIST);
    assertErrno(() -> vfs.parent("/tmp/", "/", true, Vfs.Change.CREATE), LinuxErrno.EEXIST);
    assertErrno(() -> vfs.parent("/", "/", true, Vfs.Change.REMOVE_OR_RENAME), LinuxErrno.EBUSY);
    assertErrno(() -> vfs.parent("/tmp", "/", true, Vfs.Change.REMOVE_OR_RENAME), LinuxErrno.EBUSY);
    assertErrno(() -> vfs.parent("/", "/", true, Vfs.Change.UNLINK), LinuxErrno.EISDIR);
    // On the read-only root an existing name is EEXIST before EROFS; a new one is EROFS.
    assertErrno(() -> vfs.parent("/etc", "/", true, Vfs.Change.CREATE), LinuxErrno.EEXIST);
    assertErrno(() -> vfs.parent("/bin", "/", true, Vfs.Change.CREATE), LinuxErrno.EEXIST);
    assertErrno(() -> vfs.parent("/etc/new", "/", true, Vfs.Change.CREATE), LinuxErrno.EROFS);
    assertErrno(() -> vfs.parent("/etc", "/", true, Vfs.Change.REMOVE_OR_RENAME), LinuxErrno.EROFS);
  }

  @Test
  void aMountsRootIsHeldByTheRootAsRenameSeesIt() {
    Vfs.Mount rootMount = vfs.holder((Vfs.HostNode) vfs.resolve("/etc/hostname", "/", false));
    assertThat(vfs.holder((Vfs.HostNode) vfs.resolve("/", "/", false))).isSameAs(rootMount);
    assertThat(vfs.holder((Vfs.HostNode) vfs.resolve("/tmp", "/", false))).isSameAs(rootMount);
    assertThat(vfs.holder((Vfs.HostNode) vfs.resolve("/tmp/x", "/", false))).isNotSameAs(rootMount);
    assertThat(vfs.holder((Vfs.HostNode) vfs.resolve("/dev/shm/x", "/", false)))
        .isNotSameAs(rootMount)
        .isNotSameAs(vfs.holder((Vfs.HostNode) vfs.resolve("/tmp/x", "/", false)));
  }

  private static void assertErrno(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, int errno) {
    assertThatThrownBy(call).isInstanceOfSatisfying(SyscallError.class, e -> assertThat(e.errno()).isEqualTo(errno));
  }

  @Test
  void procLinksLeadIntoTheGuestsNamespace() {
    assertThat(read("/proc/self/cwd/hostname", "/")).isEqualTo("inside\n");
    assertThat(read("/proc/2/exe", "/")).isEqualTo("tool\n");
  }

  @Test
  void thePrivateTmpIsLayeredOverTheRootsTmp() throws Exception {
    Files.createDirectories(root.resolve("tmp/checkout"));
    Files.writeString(root.resolve("tmp/checkout/file"), "from the root's /tmp\n");
    Files.writeString(root.resolve("tmp/x"), "shadowed\n");
    // Only the root has it: visible, read-only.
    assertThat(read("/tmp/checkout/file", "/")).isEqualTo("from the root's /tmp\n");
    Vfs.HostNode n = (Vfs.HostNode) vfs.resolve("/tmp/checkout/new", "/", true);
    assertThatThrownBy(() -> vfs.openHost(n, Host.O_WRONLY | Host.O_CREAT, 0644))
        .isInstanceOfSatisfying(SyscallError.class, e -> assertThat(e.errno()).isEqualTo(LinuxErrno.EROFS));
    // Both have it: the private one wins.
    assertThat(read("/tmp/x", "/")).isEqualTo("in tmp\n");
    // Neither has it: created privately.
    Vfs.HostNode fresh = (Vfs.HostNode) vfs.resolve("/tmp/fresh", "/", true);
    Host.close(vfs.openHost(fresh, Host.O_WRONLY | Host.O_CREAT, 0644));
    assertThat(tmp.resolve("fresh")).exists();
    assertThat(root.resolve("tmp/fresh")).doesNotExist();
  }

  @Test
  void procAndDevAreVirtual() {
    assertThat(vfs.resolve("/proc/self", "/", true).guestPath()).isEqualTo("/proc/2");
    assertThat(vfs.resolve("/dev/null", "/", true)).isInstanceOf(Vfs.VirtualNode.class);
    assertThat(vfs.resolve("/dev/stdout", "/", false)).isInstanceOf(Vfs.VirtualNode.class);
    Vfs.Node missing = vfs.resolve("/proc/nothing", "/", true);
    assertThat(((Vfs.VirtualNode) missing).entry()).isNull();
  }

  @Test
  void aPathReplacedByASymlinkAfterResolutionDoesNotLeadOut() throws Exception {
    Files.createDirectories(root.resolve("race"));
    Files.writeString(root.resolve("race/f"), "fine\n");
    Vfs.HostNode n = (Vfs.HostNode) vfs.resolve("/race/f", "/", true);
    // Between resolution and open, the directory becomes a link to the host's secret's dir.
    Files.delete(root.resolve("race/f"));
    Files.delete(root.resolve("race"));
    Files.createSymbolicLink(root.resolve("race"), secret.getParent());
    assertThatThrownBy(() -> vfs.openHost(n, Host.O_RDONLY, 0)).isInstanceOf(SyscallError.class);
  }
}
