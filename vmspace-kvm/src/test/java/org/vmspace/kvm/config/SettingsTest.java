package org.vmspace.kvm.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A property read as a count: its default, its value, and the refusals that name it. */
class SettingsTest {
  private static final String NAME = "vmspace.settingsTest";

  @AfterEach
  void clear() {
    System.clearProperty(NAME);
  }

  @Test
  void anUnsetPropertyIsTheDefaultAndASetOneItsValue() {
    assertThat(Settings.nonNegativeInt(NAME, 7, "pages")).isEqualTo(7);
    System.setProperty(NAME, " 0 ");
    assertThat(Settings.nonNegativeInt(NAME, 7, "pages")).isZero();
    System.setProperty(NAME, "2147483647");
    assertThat(Settings.nonNegativeInt(NAME, 7, "pages")).isEqualTo(Integer.MAX_VALUE);
  }

  @Test
  void aNegativeNumberOrNotANumberIsRefusedByName() {
    for (String bad : new String[] {"-1", "lots", "", "2147483648", "1e3"}) {
      System.setProperty(NAME, bad);
      assertThatThrownBy(() -> Settings.nonNegativeInt(NAME, 7, "pages"))
          .as("%s", bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(NAME);
    }
  }
}
