package org.vmspace.vkernel.proc;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The host's thread room from cgroup v1 and v2 pids controllers, and the default
 * --pids it bounds (issue 16: a cap above the host's room let a thread bomb use up the host's
 * threads, and the JVM could not start the thread that takes the second Ctrl-C).
 */
class HostThreadRoomTest {
  private static Function<Path, Optional<String>> files(Map<String, String> m) {
    return p -> Optional.ofNullable(m.get(p.toString()));
  }

  @Test
  void aV1PidsControllerGivesTheRoomAndThreadsMaxDoesNotCount() {
    List<String> cgroup = List.of("9:systemd:/", "8:pids:/job", "4:memory:/x", "0::/");
    var read = files(Map.of(
        "/sys/fs/cgroup/pids/job/pids.max", "400\n",
        "/sys/fs/cgroup/pids/job/pids.current", "150\n",
        "/proc/sys/kernel/threads-max", "192735\n",
        "/proc/loadavg", "4.23 6.48 12.72 6/300 22367\n"));
    assertThat(HostThreadRoom.of(cgroup, read)).hasValue(250);
  }

  @Test
  void aV2ControllerCountsAndMaxMeansNoLimit() {
    var limited = files(Map.of("/sys/fs/cgroup/user/a/pids.max", "1000", "/sys/fs/cgroup/user/a/pids.current", "40"));
    assertThat(HostThreadRoom.of(List.of("0::/user/a"), limited)).hasValue(960);
    var unlimited = files(Map.of("/sys/fs/cgroup/user/a/pids.max", "max", "/sys/fs/cgroup/user/a/pids.current", "40"));
    assertThat(HostThreadRoom.of(List.of("0::/user/a"), unlimited)).isEmpty();
  }

  @Test
  void unreadableOrGarbledFilesStateNoLimit() {
    var garbled = files(Map.of("/sys/fs/cgroup/pids/pids.max", "lots", "/sys/fs/cgroup/pids/pids.current", "1",
        "/proc/loadavg", "nonsense"));
    assertThat(HostThreadRoom.of(List.of("8:pids:/", "bad line"), garbled)).isEmpty();
    assertThat(HostThreadRoom.of(List.of(), files(Map.of()))).isEmpty();
  }

  @Test
  void theDefaultCapLeavesTheJvmItsHeadroom() {
    long host = 2L << 30; // 1024 tasks by memory
    assertThat(KernelConfig.defaultPids(host, OptionalLong.empty())).isEqualTo(1024);
    assertThat(KernelConfig.defaultPids(host, OptionalLong.of(100_000))).isEqualTo(1024);
    assertThat(KernelConfig.defaultPids(host, OptionalLong.of(428))).isEqualTo(300);
    assertThat(KernelConfig.defaultPids(host, OptionalLong.of(50))).as("never below one task").isEqualTo(1);
  }
}
