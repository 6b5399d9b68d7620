package org.vmspace.vkernel.signal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** struct signalfd_siginfo as Linux's signalfd_copyinfo fills it, and the signalfd mask. */
class SignalFdInfoTest {
  private static ByteBuffer encoded(SigInfo info) {
    byte[] b = SignalFdInfo.encode(info);
    assertThat(b).hasSize(128);
    return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
  }

  private static void assertZeroFrom(ByteBuffer b, int from, int... except) {
    outer:
    for (int i = from; i < 128; i++) {
      for (int e : except) {
        if (i >= e && i < e + 4) {
          continue outer;
        }
      }
      assertThat(b.get(i)).as("byte %d", i).isZero();
    }
  }

  @Test
  void killFromAProcessCarriesPidAndUid() {
    ByteBuffer b = encoded(SigInfo.user(Signals.SIGUSR1, 42, 1000));
    assertThat(b.getInt(0)).isEqualTo(Signals.SIGUSR1); // ssi_signo
    assertThat(b.getInt(4)).isZero(); // ssi_errno
    assertThat(b.getInt(8)).isEqualTo(SigInfo.SI_USER); // ssi_code
    assertThat(b.getInt(12)).isEqualTo(42); // ssi_pid
    assertThat(b.getInt(16)).isEqualTo(1000); // ssi_uid
    assertZeroFrom(b, 20);
  }

  @Test
  void tkillIsTheRealTimeLayoutWithPidAndUid() {
    ByteBuffer b = encoded(new SigInfo(Signals.SIGUSR2, SigInfo.SI_TKILL, 7, 0, 0, 0));
    assertThat(b.getInt(8)).isEqualTo(-6);
    assertThat(b.getInt(12)).isEqualTo(7);
    assertThat(b.getLong(48)).isZero(); // ssi_ptr
    assertThat(b.getInt(44)).isZero(); // ssi_int
  }

  @Test
  void childExitCarriesPidUidAndStatus() {
    ByteBuffer b = encoded(new SigInfo(Signals.SIGCHLD, SigInfo.CLD_EXITED, 99, 0, 0, 3));
    assertThat(b.getInt(0)).isEqualTo(Signals.SIGCHLD);
    assertThat(b.getInt(8)).isEqualTo(SigInfo.CLD_EXITED);
    assertThat(b.getInt(12)).isEqualTo(99);
    assertThat(b.getInt(40)).isEqualTo(3); // ssi_status
    assertThat(b.getLong(56)).isZero(); // ssi_utime
    assertThat(b.getLong(64)).isZero(); // ssi_stime
    ByteBuffer killed = encoded(new SigInfo(Signals.SIGCHLD, SigInfo.CLD_KILLED, 98, 0, 0, Signals.SIGKILL));
    assertThat(killed.getInt(40)).isEqualTo(Signals.SIGKILL);
  }

  @Test
  void faultCarriesTheAddressAndNoPid() {
    ByteBuffer b = encoded(SigInfo.fault(Signals.SIGSEGV, SigInfo.SEGV_MAPERR, 0xdead0000L));
    assertThat(b.getLong(72)).isEqualTo(0xdead0000L); // ssi_addr
    assertThat(b.getInt(12)).isZero();
    assertThat(b.getInt(16)).isZero();
  }

  @Test
  void aKernelCodeIsTheKillLayout() {
    // SI_KERNEL (0x80) is not below SI_KERNEL: pid and uid, never an address, even for SIGSEGV.
    ByteBuffer b = encoded(new SigInfo(Signals.SIGSEGV, SigInfo.SI_KERNEL, 0, 0, 0x1234, 0));
    assertThat(b.getLong(72)).isZero();
    assertThat(SignalFdInfo.layout(Signals.SIGALRM, SigInfo.SI_KERNEL)).isEqualTo(SignalFdInfo.Layout.KILL);
  }

  @Test
  void layoutsFollowLinuxsTable() {
    assertThat(SignalFdInfo.layout(Signals.SIGSEGV, 1)).isEqualTo(SignalFdInfo.Layout.FAULT);
    assertThat(SignalFdInfo.layout(Signals.SIGSEGV, 11)).isEqualTo(SignalFdInfo.Layout.KILL);
    assertThat(SignalFdInfo.layout(Signals.SIGBUS, 5)).isEqualTo(SignalFdInfo.Layout.FAULT);
    assertThat(SignalFdInfo.layout(Signals.SIGBUS, 6)).isEqualTo(SignalFdInfo.Layout.KILL);
    assertThat(SignalFdInfo.layout(Signals.SIGCHLD, 6)).isEqualTo(SignalFdInfo.Layout.CHLD);
    assertThat(SignalFdInfo.layout(Signals.SIGUSR1, 3)).isEqualTo(SignalFdInfo.Layout.POLL);
    assertThat(SignalFdInfo.layout(Signals.SIGUSR1, -2)).isEqualTo(SignalFdInfo.Layout.TIMER);
    assertThat(SignalFdInfo.layout(Signals.SIGUSR1, -5)).isEqualTo(SignalFdInfo.Layout.POLL);
    assertThat(SignalFdInfo.layout(Signals.SIGUSR1, -1)).isEqualTo(SignalFdInfo.Layout.RT);
    assertThat(SignalFdInfo.layout(Signals.SIGSYS, 1)).isEqualTo(SignalFdInfo.Layout.SYS);
  }

  @Test
  void encodingOverwritesEveryByteAtItsOffset() {
    byte[] out = new byte[3 * 128];
    java.util.Arrays.fill(out, (byte) 0x5a);
    SignalFdInfo.encode(SigInfo.user(Signals.SIGTERM, 5, 6), out, 128);
    assertThat(out[0]).isEqualTo((byte) 0x5a);
    assertThat(out[127]).isEqualTo((byte) 0x5a);
    assertThat(out[128]).isEqualTo((byte) Signals.SIGTERM);
    assertThat(out[255]).isZero();
    assertThat(out[256]).isEqualTo((byte) 0x5a);
  }

  @Test
  void theMaskDropsKillAndStopOnly() {
    long all = -1L;
    long m = SignalFdInfo.mask(all);
    assertThat(m & Signals.bit(Signals.SIGKILL)).isZero();
    assertThat(m & Signals.bit(Signals.SIGSTOP)).isZero();
    assertThat(Long.bitCount(m)).isEqualTo(62);
    assertThat(SignalFdInfo.mask(Signals.bit(Signals.SIGUSR1))).isEqualTo(Signals.bit(Signals.SIGUSR1));
  }
}
