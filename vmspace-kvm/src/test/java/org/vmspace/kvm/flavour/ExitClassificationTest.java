package org.vmspace.kvm.flavour;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.vmspace.kvm.guest.GuestLayout;

/**
 * Which I/O exits each flavour takes for its stubs' own: exactly the stub addresses, ports,
 * directions and privilege levels, and nothing near them. Pure logic; the KVM tests show the
 * same on real exits (and, in the emulated SVM machine, on a standard /dev/kvm).
 */
class ExitClassificationTest {
  private static final int UNTRUSTED = ExecutionFlavour.EXIT_UNTRUSTED;
  private static final int SYSCALL = ExecutionFlavour.EXIT_SYSCALL;
  private static final int OUT_LENGTH = 2;

  private final ExecutionFlavour pvm = new PvmFlavour();
  private final ExecutionFlavour standard = new StandardFlavour();

  @Test
  void exceptionVectorAtIsTheStubStartOnly() {
    for (int v = 0; v < GuestLayout.IDT_VECTORS; v++) {
      long stub = GuestLayout.exceptionStubVa(v);
      assertThat(GuestLayout.exceptionVectorAt(stub)).isEqualTo(v);
      assertThat(GuestLayout.exceptionVectorAt(stub + 1)).isEqualTo(-1);
      assertThat(GuestLayout.exceptionVectorAt(stub + OUT_LENGTH)).isEqualTo(-1);
    }
    assertThat(GuestLayout.exceptionVectorAt(GuestLayout.exceptionStubVa(0) - GuestLayout.EXCEPTION_STUB_SIZE))
        .isEqualTo(-1);
    assertThat(GuestLayout.exceptionVectorAt(GuestLayout.exceptionStubVa(GuestLayout.IDT_VECTORS))).isEqualTo(-1);
    assertThat(GuestLayout.exceptionVectorAt(0)).isEqualTo(-1);
  }

  @Test
  void lstarIsTheTrampolinePageForBothFlavours() {
    assertThat(pvm.lstar()).isEqualTo(GuestLayout.kernelVa(GuestLayout.TRAMPOLINE));
    assertThat(standard.lstar()).isEqualTo(GuestLayout.kernelVa(GuestLayout.TRAMPOLINE));
  }

  @Test
  void pvmTakesTheUserSyscallAfterTheTrampolinesOutAndExceptionsAtCpl0AfterTheirOut() {
    long lstar = pvm.lstar();
    assertThat(pvm.classifyIoExit(GuestLayout.PORT_SYSCALL, true, lstar + OUT_LENGTH, 3)).isEqualTo(SYSCALL);
    assertThat(pvm.classifyIoExit(GuestLayout.PORT_SYSCALL, true, lstar, 3)).isEqualTo(UNTRUSTED);
    assertThat(pvm.classifyIoExit(GuestLayout.PORT_SYSCALL, true, lstar + OUT_LENGTH, 0)).isEqualTo(UNTRUSTED);
    assertThat(pvm.classifyIoExit(GuestLayout.PORT_SYSCALL, false, lstar + OUT_LENGTH, 3)).isEqualTo(UNTRUSTED);
    for (int v = 0; v < GuestLayout.IDT_VECTORS; v++) {
      long stub = GuestLayout.exceptionStubVa(v);
      assertThat(pvm.classifyIoExit(GuestLayout.PORT_EXCEPTION, true, stub + OUT_LENGTH, 0)).isEqualTo(v);
      assertThat(pvm.classifyIoExit(GuestLayout.PORT_EXCEPTION, true, stub, 0)).isEqualTo(UNTRUSTED);
      assertThat(pvm.classifyIoExit(GuestLayout.PORT_EXCEPTION, true, stub + OUT_LENGTH, 3)).isEqualTo(UNTRUSTED);
      assertThat(pvm.classifyIoExit(GuestLayout.PORT_EXCEPTION, false, stub + OUT_LENGTH, 0)).isEqualTo(UNTRUSTED);
      assertThat(pvm.classifyIoExit(GuestLayout.PORT_SYSCALL, true, stub + OUT_LENGTH, 0)).isEqualTo(UNTRUSTED);
    }
  }

  @Test
  void standardTakesItsExitsAtOrAfterTheOutAndOnlyAtCpl0() {
    long lstar = standard.lstar();
    for (long rip : new long[] {lstar, lstar + OUT_LENGTH}) {
      assertThat(standard.classifyIoExit(GuestLayout.PORT_SYSCALL, true, rip, 0)).isEqualTo(SYSCALL);
      assertThat(standard.classifyIoExit(GuestLayout.PORT_SYSCALL, true, rip, 3)).as("user code").isEqualTo(UNTRUSTED);
      assertThat(standard.classifyIoExit(GuestLayout.PORT_SYSCALL, false, rip, 0)).isEqualTo(UNTRUSTED);
    }
    assertThat(standard.classifyIoExit(GuestLayout.PORT_SYSCALL, true, lstar + 1, 0)).isEqualTo(UNTRUSTED);
    assertThat(standard.classifyIoExit(GuestLayout.PORT_SYSCALL, true, lstar + 4, 0)).isEqualTo(UNTRUSTED);
    for (int v = 0; v < GuestLayout.IDT_VECTORS; v++) {
      long stub = GuestLayout.exceptionStubVa(v);
      assertThat(standard.classifyIoExit(GuestLayout.PORT_EXCEPTION, true, stub, 0)).isEqualTo(v);
      assertThat(standard.classifyIoExit(GuestLayout.PORT_EXCEPTION, true, stub + OUT_LENGTH, 0)).isEqualTo(v);
      assertThat(standard.classifyIoExit(GuestLayout.PORT_EXCEPTION, true, stub + 1, 0)).isEqualTo(UNTRUSTED);
      assertThat(standard.classifyIoExit(GuestLayout.PORT_EXCEPTION, true, stub + 4, 0)).isEqualTo(UNTRUSTED);
      assertThat(standard.classifyIoExit(GuestLayout.PORT_EXCEPTION, true, stub, 3)).isEqualTo(UNTRUSTED);
      assertThat(standard.classifyIoExit(GuestLayout.PORT_EXCEPTION, false, stub, 0)).isEqualTo(UNTRUSTED);
      assertThat(standard.classifyIoExit(GuestLayout.PORT_SYSCALL, true, stub, 0)).isEqualTo(UNTRUSTED);
    }
    assertThat(standard.classifyIoExit(GuestLayout.PORT_EXCEPTION, true,
        GuestLayout.exceptionStubVa(GuestLayout.IDT_VECTORS), 0)).isEqualTo(UNTRUSTED);
  }

  @Test
  void onlyPvmLetsUserCodeReachAPortAndOnlyStandardNeedsShootdowns() {
    assertThat(pvm.stubs().userIoPort()).isEqualTo(GuestLayout.PORT_SYSCALL);
    assertThat(pvm.stubs().trampolineIsUser()).isTrue();
    assertThat(standard.stubs().userIoPort()).isEqualTo(-1);
    assertThat(standard.stubs().trampolineIsUser()).isFalse();
    assertThat(pvm.needsTlbShootdown()).isFalse();
    assertThat(standard.needsTlbShootdown()).isTrue();
    assertThat(standard.syscallExitsAtCpl0()).isTrue();
    assertThat(pvm.syscallExitsAtCpl0()).isFalse();
    // The standard SFMASK clears TF, IF, DF, NT and AC; PVM's only TF.
    assertThat(standard.sfmask()).isEqualTo(0x100L | 0x200L | 0x400L | 0x4000L | 0x40000L);
    assertThat(pvm.sfmask()).isEqualTo(0x100L);
  }
}
