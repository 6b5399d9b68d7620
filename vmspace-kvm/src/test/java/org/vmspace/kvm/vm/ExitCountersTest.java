package org.vmspace.kvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.vmspace.api.ExitStatistics;
import org.vmspace.kvm.ioctl.Kvm;

class ExitCountersTest {
  @Test
  void eachExitCountsOnceByKindAndByReason() {
    ExitCounters c = new ExitCounters();
    c.exit(ExitCounters.SYSCALL, Kvm.KVM_EXIT_IO, 100);
    c.exit(ExitCounters.SYSCALL, Kvm.KVM_EXIT_IO, 100);
    c.exit(ExitCounters.DEMAND_FAULT, Kvm.KVM_EXIT_IO, 50);
    c.exit(ExitCounters.PAGE_FAULT, Kvm.KVM_EXIT_IO, 1);
    c.exit(ExitCounters.TRAP, Kvm.KVM_EXIT_MMIO, 1);
    c.exit(ExitCounters.INTERRUPT, Kvm.KVM_EXIT_INTR, 7);
    c.exit(ExitCounters.OTHER, Kvm.KVM_EXIT_INTR, 3);
    c.exit(ExitCounters.OTHER, ExitCounters.RUN_EFAULT, 2);
    c.exit(ExitCounters.OTHER, 1000, 0);
    c.revocation();
    c.run(1000);
    ExitStatistics s = c.snapshot();
    assertThat(s.syscalls()).isEqualTo(2);
    assertThat(s.demandFaults()).isEqualTo(1);
    assertThat(s.pageFaults()).isEqualTo(1);
    assertThat(s.traps()).isEqualTo(1);
    assertThat(s.interrupts()).isEqualTo(1);
    assertThat(s.otherExits()).isEqualTo(3);
    assertThat(s.revocations()).isEqualTo(1);
    assertThat(s.guestNanos()).isEqualTo(264);
    assertThat(s.runNanos()).isEqualTo(1000);
    assertThat(s.kvmExits()).containsExactlyEntriesOf(new java.util.TreeMap<>(java.util.Map.of(
        "IO", 4L, "MMIO", 1L, "INTR", 2L, "EFAULT", 1L, "OTHER", 1L)));
    assertThat(s.exits()).isEqualTo(9);
  }

  @Test
  void retiredCountersAddUp() {
    ExitCounters a = new ExitCounters();
    ExitCounters b = new ExitCounters();
    a.exit(ExitCounters.SYSCALL, Kvm.KVM_EXIT_IO, 5);
    b.exit(ExitCounters.SYSCALL, Kvm.KVM_EXIT_IO, 6);
    b.exit(ExitCounters.TRAP, Kvm.KVM_EXIT_SHUTDOWN, 1);
    b.revocation();
    ExitCounters sum = new ExitCounters();
    sum.add(a);
    sum.add(b);
    assertThat(sum.snapshot()).isEqualTo(a.snapshot().plus(b.snapshot()));
  }

  @Test
  void concurrentExitsAreNotLost() throws InterruptedException {
    ExitCounters c = new ExitCounters();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      threads.add(Thread.ofPlatform().start(() -> {
        for (int i = 0; i < 10_000; i++) {
          c.exit(ExitCounters.SYSCALL, Kvm.KVM_EXIT_IO, 1);
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
    assertThat(c.snapshot().syscalls()).isEqualTo(40_000);
    assertThat(c.snapshot().kvmExits()).containsEntry("IO", 40_000L);
  }
}
