package org.vmspace.vkernel.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.vmspace.vkernel.proc.KernelConfig;

/** The CPU count guests see (--cpus): /proc/cpuinfo and /sys/devices/system/cpu/* agree on it. */
class CpuViewTest {
  private static final String HOST = "processor\t: 0\nmodel name\t: A\n\nprocessor\t: 1\nmodel name\t: B\n\n";

  @Test
  void cpuinfoHasOneBlockPerCpuNumberedFromZero() {
    assertThat(VirtualFs.cpuinfo(HOST, 1)).isEqualTo("processor\t: 0\nmodel name\t: A\n\n");
    String three = VirtualFs.cpuinfo(HOST, 3);
    assertThat(three.split("\n\n")).containsExactly("processor\t: 0\nmodel name\t: A",
        "processor\t: 1\nmodel name\t: B", "processor\t: 2\nmodel name\t: A");
    assertThat(VirtualFs.cpuinfo("", 4)).isEmpty();
  }

  @Test
  void onlyTheCpuListsOfSysAreTheKernels() {
    assertThat(VirtualFs.owns(List.of("sys", "devices", "system", "cpu", "online"))).isTrue();
    assertThat(VirtualFs.owns(List.of("sys", "devices", "system", "cpu", "possible"))).isTrue();
    assertThat(VirtualFs.owns(List.of("sys", "devices", "system", "cpu", "present"))).isTrue();
    assertThat(VirtualFs.owns(List.of("sys", "devices", "system", "cpu"))).isFalse();
    assertThat(VirtualFs.owns(List.of("sys", "devices", "system", "cpu", "cpu0"))).isFalse();
    assertThat(VirtualFs.owns(List.of("sys", "kernel"))).isFalse();
  }

  @Test
  void theConfigDefaultsToTheHostAndRefusesZeroAndMoreThan64() {
    assertThat(KernelConfig.builder().build().cpus()).isEqualTo(KernelConfig.hostCpus());
    assertThat(KernelConfig.builder().cpus(64).build().cpus()).isEqualTo(64);
    assertThatThrownBy(() -> KernelConfig.builder().cpus(0).build()).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> KernelConfig.builder().cpus(65).build()).isInstanceOf(IllegalArgumentException.class);
    assertThat(KernelConfig.builder().root(Path.of("/"), false).cpus(3).build().cpus()).isEqualTo(3);
  }
}
