package org.vmspace.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class IdRegistryTest {
  private final List<String> released = new ArrayList<>();
  private final IdRegistry<String> registry = new IdRegistry<>(released::add);

  @Test
  void registerLookupAndRemove() {
    assertThat(registry.register(7, "seven")).isTrue();
    assertThat(registry.register(7, "again")).isFalse();
    Entry<String> e = registry.acquire(7);
    assertThat(e.value()).isEqualTo("seven");
    assertThat(e.activeRefs()).isEqualTo(1);
    e.release();
    assertThat(registry.remove(7)).isEqualTo(IdRegistry.Removal.REMOVED);
    assertThat(released).containsExactly("seven");
    assertThat(registry.acquire(7)).isNull();
    assertThat(registry.remove(7)).isEqualTo(IdRegistry.Removal.NOT_FOUND);
  }

  @Test
  void idZeroIsRejected() {
    assertThatThrownBy(() -> registry.register(0, "x"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void idsAreOrderedAsUnsigned() {
    registry.register(-1L, "max");
    registry.register(1, "one");
    registry.register(Long.MIN_VALUE, "mid");
    assertThat(registry.ids()).containsExactly(1L, Long.MIN_VALUE, -1L);
    assertThat(registry.acquire(-1L).value()).isEqualTo("max");
  }

  @Test
  void removeWhileReferencedIsBusyAndLeavesNoReference() {
    registry.register(1, "a");
    Entry<String> running = registry.acquire(1);
    for (int i = 0; i < 3; i++) {
      assertThat(registry.remove(1)).isEqualTo(IdRegistry.Removal.BUSY);
    }
    assertThat(running.activeRefs()).isEqualTo(1);
    assertThat(running.isDeleted()).isFalse();
    running.release();
    assertThat(running.activeRefs()).isZero();
    assertThat(registry.remove(1)).isEqualTo(IdRegistry.Removal.REMOVED);
    assertThat(released).containsExactly("a");
  }

  @Test
  void holdsDelayTheReleaseButNotTheRemoval() {
    registry.register(1, "a");
    Entry<String> e = registry.acquire(1);
    e.hold();
    e.release();
    assertThat(registry.remove(1)).isEqualTo(IdRegistry.Removal.REMOVED);
    assertThat(released).isEmpty();
    assertThat(registry.acquire(1)).isNull();
    e.unhold();
    assertThat(released).containsExactly("a");
  }

  @Test
  void recreatingADeletedIdGivesANewEntry() {
    registry.register(1, "old");
    Entry<String> old = registry.acquire(1);
    old.hold();
    old.release();
    registry.remove(1);
    assertThat(registry.register(1, "new")).isTrue();
    Entry<String> now = registry.acquire(1);
    assertThat(now.value()).isEqualTo("new");
    now.release();
    old.unhold();
    assertThat(released).containsExactly("old");
  }

  @Test
  void misuseIsReported() {
    registry.register(1, "a");
    Entry<String> e = registry.acquire(1);
    e.release();
    assertThatThrownBy(e::release).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(e::hold).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(e::unhold).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(e::acquireAgain).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void lastContextCloseDeletesEverythingAndReleasesAfterRunningThreads() {
    registry.register(1, "a");
    registry.register(2, "b");
    registry.register(3, "c");
    Entry<String> running = registry.acquire(2);
    registry.retainContext();
    assertThat(registry.releaseContext()).isFalse();
    assertThat(registry.size()).isEqualTo(3);
    assertThat(registry.releaseContext()).isTrue();
    assertThat(registry.isClosed()).isTrue();
    assertThat(registry.size()).isZero();
    assertThat(released).containsExactlyInAnyOrder("a", "c");
    assertThat(running.isDeleted()).isTrue();
    running.release();
    assertThat(released).containsExactlyInAnyOrder("a", "b", "c");
    assertThatThrownBy(() -> registry.register(4, "d")).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(registry::releaseContext).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(registry::retainContext).isInstanceOf(IllegalStateException.class);
    assertThat(registry.acquire(1)).isNull();
  }
}
