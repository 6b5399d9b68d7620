package org.vmspace.kvm.flavour;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading the KVM module's nested-paging parameter, and the property that overrides it. */
class NestedPagingTest {
  @TempDir Path dir;

  @Test
  void yesOrOneMeansNestedPagingAndAnythingElseShadowPaging() throws Exception {
    Path missing = dir.resolve("missing");
    Path p = dir.resolve("npt");
    Files.writeString(p, "Y\n");
    assertThat(NestedPaging.readParameters(missing, p)).isTrue();
    Files.writeString(p, "1\n");
    assertThat(NestedPaging.readParameters(p)).isTrue();
    for (String no : new String[] {"N\n", "0\n", "", "yes\n"}) {
      Files.writeString(p, no);
      assertThat(NestedPaging.readParameters(p)).as(no).isFalse();
    }
    assertThat(NestedPaging.readParameters(missing)).isFalse();
    assertThat(NestedPaging.readParameters(dir)).as("unreadable as a file").isFalse();
  }

  @Test
  void thePropertyCanAskForGuestStoresButNotForceHostStores() {
    String before = System.getProperty(NestedPaging.PROPERTY);
    try {
      System.setProperty(NestedPaging.PROPERTY, "guest");
      assertThat(NestedPaging.hostStoresAllowed()).isFalse();
      assertThat(new StandardFlavour().revokesWithHostStores()).isFalse();
      System.setProperty(NestedPaging.PROPERTY, "auto");
      assertThat(NestedPaging.hostStoresAllowed()).isEqualTo(NestedPaging.inUse());
      System.setProperty(NestedPaging.PROPERTY, "host");
      assertThatThrownBy(NestedPaging::hostStoresAllowed).isInstanceOf(IllegalArgumentException.class);
      assertThat(new PvmFlavour().revokesWithHostStores()).isFalse();
    } finally {
      if (before == null) {
        System.clearProperty(NestedPaging.PROPERTY);
      } else {
        System.setProperty(NestedPaging.PROPERTY, before);
      }
    }
  }
}
