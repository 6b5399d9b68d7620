package org.vmspace.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class ExitStatisticsTest {
  private static ExitStatistics stats(long syscalls, long demand, long io, long intr) {
    TreeMap<String, Long> reasons = new TreeMap<>();
    reasons.put("IO", io);
    reasons.put("INTR", intr);
    return new ExitStatistics(syscalls, 1, 2, intr, demand, 0, 5, 700, 1000, reasons);
  }

  @Test
  void exitsAreTheSumOfTheKindsAndRevocationsAreNotExits() {
    ExitStatistics s = stats(10, 20, 33, 3);
    assertThat(s.exits()).isEqualTo(10 + 1 + 2 + 3 + 20);
    assertThat(s.returnedExits()).isEqualTo(10 + 1 + 2 + 3);
    assertThat(s.kvmExits().values().stream().mapToLong(Long::longValue).sum()).isEqualTo(s.exits());
    assertThat(s.serviceNanos()).isEqualTo(300);
  }

  @Test
  void reasonsAreACopySortedByNameWithoutZeros() {
    TreeMap<String, Long> reasons = new TreeMap<>();
    reasons.put("MMIO", 0L);
    reasons.put("IO", 4L);
    ExitStatistics s = new ExitStatistics(4, 0, 0, 0, 0, 0, 0, 0, 0, reasons);
    reasons.put("INTR", 9L);
    assertThat(s.kvmExits()).containsExactly(java.util.Map.entry("IO", 4L));
    assertThatThrownBy(() -> s.kvmExits().put("X", 1L)).isInstanceOf(UnsupportedOperationException.class);
    assertThat(new ExitStatistics(0, 0, 0, 0, 0, 0, 0, 0, 0, null)).isEqualTo(ExitStatistics.EMPTY);
  }

  @Test
  void plusAndMinusWorkCountByCount() {
    ExitStatistics a = stats(10, 20, 33, 3);
    ExitStatistics b = stats(1, 2, 4, 1);
    ExitStatistics sum = a.plus(b);
    assertThat(sum.syscalls()).isEqualTo(11);
    assertThat(sum.demandFaults()).isEqualTo(22);
    assertThat(sum.revocations()).isEqualTo(10);
    assertThat(sum.kvmExits()).containsEntry("IO", 37L).containsEntry("INTR", 4L);
    assertThat(sum.minus(b)).isEqualTo(a);
    assertThat(a.minus(a)).isEqualTo(ExitStatistics.EMPTY);
    assertThat(ExitStatistics.EMPTY.plus(a)).isEqualTo(a);
  }

  @Test
  void negativeCountsAreRejected() {
    assertThatThrownBy(() -> new ExitStatistics(-1, 0, 0, 0, 0, 0, 0, 0, 0, null))
        .isInstanceOf(IllegalArgumentException.class);
    TreeMap<String, Long> bad = new TreeMap<>();
    bad.put("IO", -2L);
    assertThatThrownBy(() -> new ExitStatistics(0, 0, 0, 0, 0, 0, 0, 0, 0, bad))
        .isInstanceOf(IllegalArgumentException.class);
    ExitStatistics small = stats(1, 2, 4, 1);
    assertThatThrownBy(() -> small.minus(stats(2, 2, 4, 1))).as("not an earlier snapshot")
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void backendsWithoutCountsSayEopnotsupp() {
    VmspaceService none = (VmspaceService) java.lang.reflect.Proxy.newProxyInstance(
        VmspaceService.class.getClassLoader(), new Class<?>[] {VmspaceService.class},
        (proxy, method, args) -> {
          if (method.isDefault()) {
            return java.lang.reflect.InvocationHandler.invokeDefault(proxy, method, args);
          }
          throw new UnsupportedOperationException(method.getName());
        });
    assertThatThrownBy(() -> none.exitStatistics(VmspaceId.of(1)))
        .isInstanceOfSatisfying(VmspaceException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EOPNOTSUPP));
    assertThatThrownBy(none::exitStatistics)
        .isInstanceOfSatisfying(VmspaceException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EOPNOTSUPP));
  }
}
