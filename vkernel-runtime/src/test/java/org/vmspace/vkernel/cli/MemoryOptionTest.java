package org.vmspace.vkernel.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class MemoryOptionTest {
  @Test
  void sizesTakeBinarySuffixes() {
    assertThat(MemoryOption.parseSize("512M")).isEqualTo(512L << 20);
    assertThat(MemoryOption.parseSize("2G")).isEqualTo(2L << 30);
    assertThat(MemoryOption.parseSize("2g")).isEqualTo(2L << 30);
    assertThat(MemoryOption.parseSize("64MiB")).isEqualTo(64L << 20);
    assertThat(MemoryOption.parseSize("65536K")).isEqualTo(64L << 20);
    assertThat(MemoryOption.parseSize("16777216")).isEqualTo(16L << 20);
    assertThat(MemoryOption.parseSize("1T")).isEqualTo(1L << 40);
  }

  @Test
  void badTooLargeAndTooSmallSizesAreRefused() {
    for (String bad : new String[] {"", "M", "12X", "-5M", "1.5G", "99999999999999999999", "9000000T", "15M", "512i"}) {
      assertThatThrownBy(() -> MemoryOption.parseSize(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void theServiceGetsRoomBeyondWhatIsCommitted() {
    assertThat(MemoryOption.backendMemory(64L << 20)).isEqualTo(128L << 20);
    assertThat(MemoryOption.backendMemory(8L << 30)).isEqualTo(9L << 30);
    assertThat(MemoryOption.backendMemory(Long.MAX_VALUE - 5)).isEqualTo(Long.MAX_VALUE);
  }
}
