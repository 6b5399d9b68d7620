package org.vmspace.vkernel.mem;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

class MemoryBudgetTest {
  @Test
  void reservationsStopAtTheLimitWithEnomem() {
    MemoryBudget b = new MemoryBudget(100);
    b.reserve(60);
    b.reserve(40);
    assertThatThrownBy(() -> b.reserve(1)).isInstanceOfSatisfying(SyscallError.class,
        e -> assertThat(e.errno()).isEqualTo(LinuxErrno.ENOMEM));
    assertThat(b.committed()).isEqualTo(100);
    b.reserve(-30);
    b.reserve(30);
    b.adjust(-100);
    assertThat(b.committed()).isZero();
    // A reservation that would wrap is refused, not wrapped.
    assertThatThrownBy(() -> b.reserve(Long.MAX_VALUE)).isInstanceOf(SyscallError.class);
    b.reserve(50);
    assertThatThrownBy(() -> b.reserve(Long.MAX_VALUE)).isInstanceOf(SyscallError.class);
  }

  @Test
  void anUnlimitedBudgetOnlyCounts() {
    MemoryBudget b = MemoryBudget.unlimited();
    b.reserve(1L << 50);
    b.reserve(1L << 50);
    assertThat(b.committed()).isEqualTo(1L << 51);
    assertThat(b.limit()).isEqualTo(-1);
  }
}
