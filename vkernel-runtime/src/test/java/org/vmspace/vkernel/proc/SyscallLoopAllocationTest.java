package org.vmspace.vkernel.proc;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmspace.api.VmspaceService;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.fs.HostFileDescription;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.syscall.Syscalls;
import org.vmspace.vkernel.testing.Kvm;

/**
 * The vkernel's guest-thread loop allocates nothing of its own per system call (issue 17, "the
 * hot path"): a static program making 10,000 more {@code getppid} calls than another allocates,
 * on the kernel's threads, little more per extra call than the JDK's 40 bytes of a {@code
 * KVM_RUN} downcall in interpreted and C1 code (see {@code HotPathAllocationTest} in
 * vmspace-kvm). The two runs are otherwise the same program (exec, exit, wait), so their
 * difference is the loop's: run, dispatch, count, deliver signals. Before issue 17's fix an
 * extra call allocated 213 bytes (emulated, 2026-12-07, measured over the whole JVM), after it
 * 40.85 (and 1.35 in a run where C2 had compiled the downcall).
 */
@Tag("kvm")
class SyscallLoopAllocationTest {
  private static final int GETPPID = 110;
  private static final int EXTRA_CALLS = 10_000;
  /**
   * The average an extra system call may allocate: the JDK's 40 bytes of the {@code KVM_RUN}
   * downcall (until C2 compiles it) and less than the smallest object (16 bytes) more, so that
   * any object of ours made per call fails the test.
   */
  private static final long BYTES_PER_CALL = 48;

  @TempDir Path dir;
  VmspaceService vms;
  Kernel kernel;

  @BeforeEach
  void setUp() {
    vms = Kvm.open();
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
  void aLoopOfSystemCallsAllocatesNothingOfItsOwnPerCall() throws Exception {
    Path few = program("few", 1);
    Path many = program("many", 1 + EXTRA_CALLS);
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    assertThat(threads.isThreadAllocatedMemorySupported()).isTrue();
    threads.setThreadAllocatedMemoryEnabled(true);
    // Warm up: the image cache, the carrier thread and its thread-locals. Not the JIT: the loop
    // allocates nothing in the interpreter and C1 either (they do no escape analysis).
    run(few);
    long callsBefore = kernel.statistics().calls(GETPPID);
    long fewBytes = kernelThreadBytesOf(threads, few);
    long manyBytes = kernelThreadBytesOf(threads, many);
    long calls = kernel.statistics().calls(GETPPID) - callsBefore;
    long extra = manyBytes - fewBytes;
    System.out.printf("SyscallLoopAllocationTest: the kernel's threads allocated %d bytes in a run of 1 getppid, %d in one of %d (%.2f per extra call)%n",
        fewBytes, manyBytes, 1 + EXTRA_CALLS, (double) extra / EXTRA_CALLS);
    assertThat(calls).as("getppid calls of the two measured runs").isEqualTo(2 + EXTRA_CALLS);
    assertThat(extra)
        .as("bytes allocated by %d more system calls (%.2f each)", EXTRA_CALLS, (double) extra / EXTRA_CALLS)
        .isLessThan(BYTES_PER_CALL * EXTRA_CALLS);
  }

  /**
   * What the carriers the guest threads run on (the kernel's {@code vk-} threads, by their idle
   * or their task's name, but not the timer thread) allocate while {@code program} runs. Not the
   * whole JVM's: exec runs on the caller's thread, and the other threads' allocations (from
   * 46 KB to 514 KB in a run of one call, emulated) would drown the loop's.
   */
  private long kernelThreadBytesOf(com.sun.management.ThreadMXBean threads, Path program) throws Exception {
    Map<Long, Long> before = kernelThreadBytes(threads);
    run(program);
    long total = 0;
    for (Map.Entry<Long, Long> e : kernelThreadBytes(threads).entrySet()) {
      total += e.getValue() - before.getOrDefault(e.getKey(), 0L);
    }
    return total;
  }

  private static Map<Long, Long> kernelThreadBytes(com.sun.management.ThreadMXBean threads) {
    Map<Long, Long> bytes = new HashMap<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      // vk-timers is left out too: its work grows with the run's length, not its calls.
      if (t.getName().startsWith("vk-") && !t.getName().equals("vk-timers")) {
        long b = threads.getThreadAllocatedBytes(t.threadId());
        if (b >= 0) {
          bytes.put(t.threadId(), b);
        }
      }
    }
    return bytes;
  }

  private void run(Path program) throws Exception {
    FileDescription[] stdio = new FileDescription[3];
    for (int i = 0; i < 3; i++) {
      int fd = Host.openat2(Host.AT_FDCWD, "/dev/null".getBytes(StandardCharsets.US_ASCII),
          Host.O_RDWR | Host.O_CLOEXEC, 0, 0);
      stdio[i] = new HostFileDescription(fd, "/dev/null", Host.O_RDWR);
    }
    Kernel.Exit e = kernel.run(program.toString(), List.of(program.toString()), List.of(), "/", stdio, null);
    assertThat(e.signal()).as("%s's signal", program).isZero();
    assertThat(e.code()).as("%s's exit code", program).isZero();
  }

  /**
   * A static ET_EXEC that calls {@code getppid} {@code calls} times (at least once) and exits 0:
   * one text segment at 0x400000 holding the headers and the code.
   */
  private Path program(String name, int calls) throws Exception {
    int ehdr = 64;
    int phdr = 56;
    int code = ehdr + 2 * phdr;
    byte[] text = {
      (byte) 0xbb, 0, 0, 0, 0, // mov $calls, %ebx
      (byte) 0xb8, (byte) GETPPID, 0, 0, 0, // 1: mov $110, %eax
      0x0f, 0x05, // syscall
      (byte) 0xff, (byte) 0xcb, // dec %ebx
      0x75, (byte) 0xf5, // jnz 1b
      (byte) 0xb8, 60, 0, 0, 0, // mov $60, %eax
      0x31, (byte) 0xff, // xor %edi, %edi
      0x0f, 0x05, // syscall: exit(0)
    };
    ByteBuffer.wrap(text, 1, 4).order(ByteOrder.LITTLE_ENDIAN).putInt(calls);
    int size = code + text.length;
    ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(0, 0x464c457f).put(4, (byte) 2).put(5, (byte) 1).put(6, (byte) 1);
    b.putShort(16, (short) 2).putShort(18, (short) 62).putInt(20, 1).putLong(24, 0x400000L + code)
        .putLong(32, ehdr).putShort(52, (short) ehdr).putShort(54, (short) phdr).putShort(56, (short) 2);
    // PT_LOAD r-x: the whole file at 0x400000.
    b.putInt(ehdr, 1).putInt(ehdr + 4, 5).putLong(ehdr + 8, 0).putLong(ehdr + 16, 0x400000L)
        .putLong(ehdr + 24, 0x400000L).putLong(ehdr + 32, size).putLong(ehdr + 40, size).putLong(ehdr + 48, 0x1000);
    // PT_GNU_STACK rw-.
    b.putInt(ehdr + phdr, 0x6474e551).putInt(ehdr + phdr + 4, 6).putLong(ehdr + phdr + 48, 16);
    b.put(code, text);
    Path p = Files.write(dir.resolve(name), b.array());
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    return p;
  }
}
