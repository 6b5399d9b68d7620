package org.vmspace.vkernel.proc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.vmspace.vkernel.fs.FdTable;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/** The rules of setrlimit/prlimit64 and of RLIMIT_FSIZE, and the configured defaults. */
class LimitsTest {
  private static int errno(Runnable r) {
    try {
      r.run();
      return 0;
    } catch (SyscallError e) {
      return e.errno();
    }
  }

  @Test
  void softAboveHardIsEinvalRaisingHardNeedsPrivilege() {
    long[] old = {100, 200};
    assertThat(errno(() -> Limits.checkChange(Limits.RLIMIT_AS, old, 300, 200, true))).isEqualTo(LinuxErrno.EINVAL);
    assertThat(errno(() -> Limits.checkChange(Limits.RLIMIT_AS, old, 150, 250, false))).isEqualTo(LinuxErrno.EPERM);
    assertThat(errno(() -> Limits.checkChange(Limits.RLIMIT_AS, old, 150, 250, true))).isZero();
    // Lowering the hard limit, or the soft up to the hard one, needs nothing.
    assertThat(errno(() -> Limits.checkChange(Limits.RLIMIT_AS, old, 200, 200, false))).isZero();
    assertThat(errno(() -> Limits.checkChange(Limits.RLIMIT_AS, old, 10, 50, false))).isZero();
    // RLIM_INFINITY is the largest value, not -1.
    assertThat(errno(() -> Limits.checkChange(Limits.RLIMIT_AS, old, Limits.INFINITY, 200, false)))
        .isEqualTo(LinuxErrno.EINVAL);
    assertThat(errno(() -> Limits.checkChange(Limits.RLIMIT_AS, old, 0, Limits.INFINITY, false)))
        .isEqualTo(LinuxErrno.EPERM);
    assertThat(errno(() -> Limits.checkChange(Limits.COUNT, old, 1, 1, true))).isEqualTo(LinuxErrno.EINVAL);
    assertThat(errno(() -> Limits.checkChange(-1, old, 1, 1, true))).isEqualTo(LinuxErrno.EINVAL);
  }

  @Test
  void nofileStopsAtNrOpenEvenForRoot() {
    long[] old = {1024, Limits.INFINITY};
    assertThat(errno(() -> Limits.checkChange(Limits.RLIMIT_NOFILE, old, 1024, FdTable.NR_OPEN + 1L, true)))
        .isEqualTo(LinuxErrno.EPERM);
    assertThatCode(() -> Limits.checkChange(Limits.RLIMIT_NOFILE, old, 1024, FdTable.NR_OPEN, true))
        .doesNotThrowAnyException();
  }

  @Test
  void writesAreCutAtTheFileSizeLimitAndRefusedPastIt() {
    assertThat(Limits.writeAllowance(0, 100, Limits.INFINITY)).isEqualTo(100);
    assertThat(Limits.writeAllowance(0, 100, 4096)).isEqualTo(100);
    assertThat(Limits.writeAllowance(4000, 200, 4096)).isEqualTo(96);
    assertThat(Limits.writeAllowance(4096, 1, 4096)).isZero();
    assertThat(Limits.writeAllowance(5000, 1, 4096)).isZero();
    // A huge (unsigned) length is cut, not overflowed.
    assertThat(Limits.writeAllowance(10, -1L, 4096)).isEqualTo(4086);
  }

  @Test
  void exceedsIsUnsignedAndInfinityIsNeverExceeded() {
    assertThat(Limits.exceeds(-2L, Limits.INFINITY)).isFalse();
    assertThat(Limits.exceeds(-2L, 1L << 40)).isTrue();
    assertThat(Limits.exceeds(1L << 40, 1L << 40)).isFalse();
    assertThat(Limits.exceeds((1L << 40) + 1, 1L << 40)).isTrue();
  }

  @Test
  void theFirstProcessGetsTheConfiguredFilesAndTasks() {
    long[][] l = Limits.defaults(4096, 700);
    assertThat(l[Limits.RLIMIT_NOFILE]).containsExactly(1024, 4096);
    assertThat(l[Limits.RLIMIT_NPROC]).containsExactly(700, 700);
    assertThat(Limits.defaults(42, 700)[Limits.RLIMIT_NOFILE]).containsExactly(42, 42);
    assertThat(l[Limits.RLIMIT_STACK]).containsExactly(8L << 20, Limits.INFINITY);
    assertThat(l[Limits.RLIMIT_AS]).containsExactly(Limits.INFINITY, Limits.INFINITY);
    assertThat(l[Limits.RLIMIT_CORE]).containsExactly(0, Limits.INFINITY);
    long[][] child = Limits.defaults();
    Limits.copy(l, child);
    l[Limits.RLIMIT_NOFILE][0] = 1;
    assertThat(child[Limits.RLIMIT_NOFILE]).containsExactly(1024, 4096);
  }

  @Test
  void defaultCapsComeFromTheHostsMemory() {
    assertThat(KernelConfig.defaultMemory(8L << 30)).isEqualTo(4L << 30);
    assertThat(KernelConfig.defaultMemory((2L << 30) + 12345)).isEqualTo(1L << 30);
    assertThat(KernelConfig.defaultMemory(1L << 20)).isEqualTo(KernelConfig.MIN_MEMORY);
    assertThat(KernelConfig.defaultPids(2L << 30)).isEqualTo(1024);
    assertThat(KernelConfig.defaultPids(64L << 20)).isEqualTo(512);
    assertThat(KernelConfig.defaultPids(1L << 40)).isEqualTo(32768);
    KernelConfig c = KernelConfig.builder().memory(64L << 20).pids(3).files(42).build();
    assertThat(c.memory()).isEqualTo(64L << 20);
    assertThat(c.pids()).isEqualTo(3);
    assertThat(c.files()).isEqualTo(42);
    assertThatThrownBy(() -> KernelConfig.builder().memory(1L << 20).build()).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> KernelConfig.builder().pids(0).build()).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> KernelConfig.builder().files(FdTable.NR_OPEN + 1).build())
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void cpuTimeBringsSigxcpuAtTheSoftLimitAndSigkillAtTheHardOne() {
    long second = 1_000_000_000L;
    long[] limit = {2, 5};
    assertThat(CpuLimit.decide(2 * second - 1, limit)).isZero();
    assertThat(CpuLimit.decide(2 * second, limit)).isEqualTo(org.vmspace.vkernel.signal.Signals.SIGXCPU);
    assertThat(CpuLimit.decide(5 * second, limit)).isEqualTo(org.vmspace.vkernel.signal.Signals.SIGKILL);
    // Soft equal to hard: SIGKILL, not SIGXCPU, as Linux checks the hard limit first.
    assertThat(CpuLimit.decide(3 * second, new long[] {3, 3})).isEqualTo(org.vmspace.vkernel.signal.Signals.SIGKILL);
    assertThat(CpuLimit.decide(Long.MAX_VALUE, new long[] {Limits.INFINITY, Limits.INFINITY})).isZero();
    assertThat(CpuLimit.decide(Long.MAX_VALUE, new long[] {1, Limits.INFINITY}))
        .isEqualTo(org.vmspace.vkernel.signal.Signals.SIGXCPU);
  }

  @Test
  void newTasksStopAtTheCapForEveryoneAndAtNprocExceptForRoot() {
    assertThat(errno(() -> Limits.checkNewTask(19, 20, Limits.INFINITY, true))).isZero();
    assertThat(errno(() -> Limits.checkNewTask(20, 20, Limits.INFINITY, true))).isEqualTo(LinuxErrno.EAGAIN);
    assertThat(errno(() -> Limits.checkNewTask(20, 20, Limits.INFINITY, false))).isEqualTo(LinuxErrno.EAGAIN);
    assertThat(errno(() -> Limits.checkNewTask(4, 100, 5, false))).isZero();
    assertThat(errno(() -> Limits.checkNewTask(5, 100, 5, false))).isEqualTo(LinuxErrno.EAGAIN);
    assertThat(errno(() -> Limits.checkNewTask(5, 100, 5, true))).isZero();
    assertThat(errno(() -> Limits.checkNewTask(1, 100, 0, false))).isEqualTo(LinuxErrno.EAGAIN);
  }

  @Test
  void rlimitStackSizesTheStackAndTheArgumentsAtExec() {
    assertThat(org.vmspace.vkernel.elf.ElfLoader.stackSize(8L << 20)).isEqualTo(8L << 20);
    assertThat(org.vmspace.vkernel.elf.ElfLoader.stackSize(256L << 10)).isEqualTo(256L << 10);
    assertThat(org.vmspace.vkernel.elf.ElfLoader.stackSize((256L << 10) + 1)).isEqualTo((256L << 10) + 4096);
    assertThat(org.vmspace.vkernel.elf.ElfLoader.stackSize(4096)).isEqualTo(org.vmspace.vkernel.elf.ElfLoader.MIN_STACK);
    assertThat(org.vmspace.vkernel.elf.ElfLoader.stackSize(Limits.INFINITY))
        .isEqualTo(org.vmspace.vkernel.elf.ElfLoader.MAX_STACK);
    // A quarter of the limit, at least ARG_MAX (128 KiB), at most 6 MiB: Linux's bprm_stack_limits.
    assertThat(org.vmspace.vkernel.elf.ElfLoader.argumentLimit(8L << 20)).isEqualTo(2L << 20);
    assertThat(org.vmspace.vkernel.elf.ElfLoader.argumentLimit(256L << 10)).isEqualTo(128L << 10);
    assertThat(org.vmspace.vkernel.elf.ElfLoader.argumentLimit(Limits.INFINITY)).isEqualTo(6L << 20);
    assertThat(org.vmspace.vkernel.elf.ElfLoader.argumentLimit(64L << 20)).isEqualTo(6L << 20);
  }
}
