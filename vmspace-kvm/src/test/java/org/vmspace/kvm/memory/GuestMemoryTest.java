package org.vmspace.kvm.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Guest memory on the host, without KVM: layout, huge-page advice, discard, close. */
class GuestMemoryTest {
  private static final long MIB = 1L << 20;

  @Test
  void hugePageMemoryIs2MiBAlignedOnTheHostAndWorksLikeSmallPageMemory() {
    for (boolean huge : new boolean[] {false, true}) {
      try (GuestMemory m = GuestMemory.create("guest-memory-test", 6 * MIB, huge)) {
        if (huge) {
          assertThat(m.host().address() % GuestMemory.HUGE_PAGE).as("host address").isZero();
        }
        assertThat(m.host().byteSize()).isEqualTo(6 * MIB);
        m.writeLong(0, 1);
        m.writeLong(6 * MIB - 8, -1L);
        m.writeLong(2 * MIB + 4096, 42);
        assertThat(m.readLong(6 * MIB - 8)).isEqualTo(-1L);
        m.discard(2 * MIB, 2 * MIB);
        assertThat(m.readLong(2 * MIB + 4096)).as("discarded").isZero();
        assertThat(m.readLong(0)).as("kept").isEqualTo(1);
      }
    }
  }

  @Test
  void theAdviceIsTakenWhereTheKernelHasTransparentHugePages() {
    boolean kernelHasThp = Files.exists(Path.of("/sys/kernel/mm/transparent_hugepage/enabled"));
    try (GuestMemory huge = GuestMemory.create("guest-memory-test", 2 * MIB, true);
        GuestMemory small = GuestMemory.create("guest-memory-test", 2 * MIB)) {
      assertThat(huge.hugePagesAdvised()).isEqualTo(kernelHasThp);
      assertThat(small.hugePagesAdvised()).isFalse();
    }
  }

  @Test
  void theHostPolicyIsTheSelectedWordOfShmemEnabled() throws Exception {
    Path file = Path.of("/sys/kernel/mm/transparent_hugepage/shmem_enabled");
    String expected = Files.isReadable(file) ? GuestMemory.selectedWord(Files.readString(file)) : "unavailable";
    assertThat(GuestMemory.hostShmemHugePages()).isEqualTo(expected);
    assertThat(GuestMemory.hostHonoursAdvice())
        .isEqualTo(expected.equals("advise") || expected.equals("always")
            || expected.equals("within_size") || expected.equals("force"));
  }

  @Test
  void selectedWordParsesSysfsChoiceLines() {
    assertThat(GuestMemory.selectedWord("always within_size advise [never] deny force\n")).isEqualTo("never");
    assertThat(GuestMemory.selectedWord("[always] advise never")).isEqualTo("always");
    assertThat(GuestMemory.selectedWord("always advise never")).isEqualTo("unavailable");
    assertThat(GuestMemory.selectedWord("]x[")).isEqualTo("unavailable");
    assertThat(GuestMemory.selectedWord("")).isEqualTo("unavailable");
    assertThat(GuestMemory.selectedWord(null)).isEqualTo("unavailable");
  }

  @Test
  void sizesThatAreNotWhole2MiBBlocksAreRefused() {
    assertThatThrownBy(() -> GuestMemory.create("guest-memory-test", 0, true))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> GuestMemory.create("guest-memory-test", 3 * MIB, true))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> GuestMemory.create("guest-memory-test", -2 * MIB, false))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aClosedMemoryRefusesAccessWithoutCrashingAndDiscardIsANoOp() {
    GuestMemory m = GuestMemory.create("guest-memory-test", 2 * MIB, true);
    m.close();
    m.close();
    m.discard(0, 4096);
    assertThatThrownBy(() -> m.readLong(0)).isInstanceOf(IllegalStateException.class);
  }
}
