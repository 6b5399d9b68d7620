package org.vmspace.vkernel.elf;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.vmspace.api.ExitStatistics;
import org.vmspace.api.VmspaceService;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.proc.Kernel;
import org.vmspace.vkernel.proc.KernelConfig;
import org.vmspace.vkernel.syscall.Syscalls;
import org.vmspace.vkernel.testing.Kvm;

/**
 * A re-exec of a cached image takes no demand fault (issue 17): its text and read-only data are
 * mapped present from the file cache at exec, its data segment is copied whole by exec's own
 * write of the last file page's tail (a copy-on-write write in a private file mapping of at most
 * one fault-around block owns the block's other pages too), its bss and the first 64 KiB of each
 * brk growth are mapped at once, and so is the vDSO. Without those changes the second {@code
 * busybox true} took 8 demand faults (4 copy-on-write writes of data pages, 1 first write of the
 * bss, 2 of brk growths, 1 read of the vDSO: {@code -Dvmspace.faultLog}); with each one taken
 * out alone, 5 (the vDSO and the data segment), 1 (the bss) and 2 (brk), so any of them coming
 * back fails here.
 */
@Tag("kvm")
class ExecFaultsTest {
  static final String BUSYBOX = "/bin/busybox";
  VmspaceService vms;
  Kernel kernel;

  @BeforeEach
  void setUp() {
    vms = Kvm.open();
    Kvm.require(BUSYBOX, "busybox-static");
    kernel = new Kernel(vms, KernelConfig.builder().root(Path.of("/"), false).build(), Syscalls::new);
  }

  @AfterEach
  void tearDown() {
    if (kernel != null) {
      kernel.close();
    }
    if (vms != null) {
      vms.close();
    }
  }

  @Test
  void aReExecOfACachedStaticImageTakesNoDemandFault() throws Exception {
    run(BUSYBOX, "true"); // the first exec reads the pages it touches into the file cache
    ExitStatistics before = vms.exitStatistics();
    run(BUSYBOX, "true");
    ExitStatistics exec = vms.exitStatistics().minus(before);
    System.out.printf("ExecFaultsTest: a re-exec of busybox true: %d exits, %d system calls, %d demand faults, %d revocation batches%n",
        exec.exits(), exec.syscalls(), exec.demandFaults(), exec.revocations());
    assertThat(exec.syscalls()).as("the run happened: %s", exec).isPositive();
    assertThat(exec.demandFaults()).as("demand faults of the re-exec: %s", exec).isZero();
  }

  private void run(String... argv) throws Exception {
    FileDescription[] stdio = new FileDescription[3];
    for (int i = 0; i < 3; i++) {
      int fd = Host.openat2(Host.AT_FDCWD, "/dev/null".getBytes(StandardCharsets.US_ASCII),
          Host.O_RDWR | Host.O_CLOEXEC, 0, 0);
      stdio[i] = new HostFileDescription(fd, "/dev/null", Host.O_RDWR);
    }
    Kernel.Exit e = kernel.run(argv[0], List.of(argv), List.of("PATH=/bin:/usr/bin", "LC_ALL=C"), "/", stdio, null);
    assertThat(e.signal()).as("%s's signal", List.of(argv)).isZero();
    assertThat(e.code()).as("%s's exit code", List.of(argv)).isZero();
  }
}
