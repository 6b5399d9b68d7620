package org.vmspace.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

class ValuesTest {
  @Test
  void idsOrderAsUnsigned() {
    List<VmspaceId> ids =
        new ArrayList<>(List.of(VmspaceId.of(-1), VmspaceId.of(1), VmspaceId.of(Long.MIN_VALUE)));
    Collections.sort(ids);
    assertThat(ids).containsExactly(VmspaceId.of(1), VmspaceId.of(Long.MIN_VALUE), VmspaceId.of(-1));
    assertThat(VmspaceId.of(0)).isSameAs(VmspaceId.NULL);
    assertThat(VmspaceId.NULL.isValid()).isFalse();
    assertThat(VmspaceId.of(42)).isEqualTo(VmspaceId.of(42)).hasToString("0x2a");
  }

  @Test
  void trapCodesForVectors() {
    assertThat(Trap.forVector(0)).isEqualTo(Trap.T_DIVIDE);
    assertThat(Trap.forVector(1)).isEqualTo(Trap.T_TRCTRAP);
    assertThat(Trap.forVector(3)).isEqualTo(Trap.T_BPTFLT);
    assertThat(Trap.forVector(6)).isEqualTo(Trap.T_PRIVINFLT);
    assertThat(Trap.forVector(13)).isEqualTo(Trap.T_PROTFLT);
    assertThat(Trap.forVector(14)).isEqualTo(Trap.T_PAGEFLT);
    assertThat(Trap.forVector(16)).isEqualTo(Trap.T_ARITHTRAP);
    assertThat(Trap.forVector(17)).isEqualTo(Trap.T_ALIGNFLT);
    assertThat(Trap.forVector(19)).isEqualTo(Trap.T_XMMFLT);
    assertThat(Trap.forVector(21)).isEqualTo(Trap.T_RESERVED);
    assertThatThrownBy(() -> Trap.forVector(32)).isInstanceOf(IllegalArgumentException.class);
    assertThat(Trap.vectorHasErrorCode(14)).isTrue();
    assertThat(Trap.vectorHasErrorCode(6)).isFalse();
    assertThat(Trap.name(Trap.T_FAST_SYSCALL)).isEqualTo("T_FAST_SYSCALL");
    assertThat(RunResult.forTrap(Trap.T_PAGEFLT)).isEqualTo(RunResult.PAGEFAULT);
    assertThat(RunResult.forTrap(Trap.T_FAST_SYSCALL)).isEqualTo(RunResult.SYSCALL);
    assertThat(RunResult.forTrap(Trap.T_PROTFLT)).isEqualTo(RunResult.TRAP);
    assertThat(RunResult.PAGEFAULT.code()).isEqualTo(1);
    assertThat(RunResult.SYSCALL.code()).isEqualTo(4);
  }

  @Test
  void protections() {
    assertThat(Prot.of(3)).isSameAs(Prot.READ_WRITE).hasToString("PROT_READ|PROT_WRITE");
    assertThat(Prot.NONE).hasToString("PROT_NONE");
    assertThat(Prot.READ.isSubsetOf(Prot.READ_EXEC)).isTrue();
    assertThat(Prot.READ_WRITE.isSubsetOf(Prot.READ_EXEC)).isFalse();
    assertThat(Prot.isValid(8)).isFalse();
    assertThatThrownBy(() -> Prot.of(8)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void exceptionMessageNamesCallIdAndArgument() {
    VmspaceException e =
        new VmspaceException(Errno.EINVAL, "vmspace_mmap", VmspaceId.of(42), "len is 0");
    assertThat(e).hasMessage("vmspace_mmap(id=0x2a): EINVAL (Invalid argument): len is 0");
    assertThat(e.errno()).isEqualTo(Errno.EINVAL);
    assertThat(e.errno().code()).isEqualTo(22);
    assertThat(e.call()).isEqualTo("vmspace_mmap");
    assertThat(Errno.ofCode(95)).isEqualTo(Errno.EOPNOTSUPP);
    assertThat(MapFlags.toString(MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON)).isEqualTo("MAP_PRIVATE|MAP_ANON");
    assertThat(Madvise.name(11)).isEqualTo("MADV_SETMAP");
  }

  @Test
  void optionsValidate() {
    assertThat(VmspaceOptions.defaults().memoryLimit()).isEqualTo(4L << 30);
    assertThatThrownBy(() -> VmspaceOptions.builder().maxVcpus(0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> VmspaceOptions.builder().memoryLimit(1)).isInstanceOf(IllegalArgumentException.class);
  }
}
