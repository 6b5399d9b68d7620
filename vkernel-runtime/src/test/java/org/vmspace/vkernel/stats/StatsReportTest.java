package org.vmspace.vkernel.stats;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.vmspace.api.ExitStatistics;

class StatsReportTest {
  private static String name(long nr) {
    return switch ((int) nr) {
      case 0 -> "read";
      case 1 -> "write";
      case 60 -> "exit";
      case 231 -> "exit_group";
      default -> "syscall_" + nr;
    };
  }

  @Test
  void theTableIsStableAndSortsSystemCallsByCount() {
    KernelStats k = new KernelStats();
    k.newProcess();
    k.newProcess();
    SyscallCounters a = k.newTask();
    SyscallCounters b = k.newTask();
    for (int i = 0; i < 3; i++) {
      a.syscall(1, 1_000_000);
    }
    a.syscall(0, 2_500_000);
    b.syscall(0, 500_000);
    a.syscall(231, 0);
    b.syscall(231, 0);
    b.syscall(60, 0);
    b.syscall(100_000, 0);
    b.syscall(-1, 0);
    a.faultSignal(true);
    k.taskEnded(a);
    TreeMap<String, Long> reasons = new TreeMap<>();
    reasons.put("IO", 29L);
    reasons.put("INTR", 1L);
    ExitStatistics exits = new ExitStatistics(10, 1, 0, 0, 18, 1, 4, 2_000_000_000L, 2_250_000_000L, reasons);
    String report = StatsReport.format(exits, k.snapshot(), StatsReportTest::name);
    assertThat(report).isEqualTo("""
        vkernel stats: 2 processes, 2 threads
        exits                            30
          syscall                        10   returned to the kernel
          page fault                      1   returned to the kernel
          trap                            0   returned to the kernel
          interrupt                       0   returned to the kernel
          demand fault                   18   served in the service
          other                           1   kicks, retries
        revocation batches                4
        kvm exit reasons       INTR=1 IO=29
        time in guest                 2.000 s
        time in service               0.250 s
        time in kernel                0.006 s
        faults to signals                 1   page faults 1, other traps 0
        system calls                     10    kernel ms
          write                           3        3.000
          read                            2        3.000
          exit_group                      2        0.000
          (numbers >= 512)                2        0.000
          exit                            1        0.000
        """);
  }

  @Test
  void endedAndLiveTasksAreSummedOnce() {
    KernelStats k = new KernelStats();
    SyscallCounters a = k.newTask();
    a.syscall(39, 10);
    k.taskEnded(a);
    k.taskEnded(a);
    SyscallCounters b = k.newTask();
    b.syscall(39, 5);
    b.faultSignal(false);
    KernelStats.Snapshot s = k.snapshot();
    assertThat(s.calls(39)).isEqualTo(2);
    assertThat(s.nanos(39)).isEqualTo(15);
    assertThat(s.totalCalls()).isEqualTo(2);
    assertThat(s.trapSignals()).isEqualTo(1);
    assertThat(s.pageFaultSignals()).isZero();
    assertThat(s.tasks()).isEqualTo(2);
    b.syscall(39, 5);
    assertThat(s.calls(39)).as("a snapshot does not change").isEqualTo(2);
  }
}
