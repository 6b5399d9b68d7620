package org.vmspace.vkernel.signal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.vmspace.api.TrapFrame;

class SignalFrameTest {
  @Test
  void theLayoutIsLinuxs() {
    // struct rt_sigframe: pretcode, ucontext (uc_mcontext at +40, uc_sigmask at +296), siginfo.
    assertThat(SignalFrame.UCONTEXT).isEqualTo(8);
    assertThat(SignalFrame.MCONTEXT).isEqualTo(48);
    assertThat(SignalFrame.SIGMASK).isEqualTo(304);
    assertThat(SignalFrame.SIGINFO).isEqualTo(312);
    assertThat(SignalFrame.SIZE).isEqualTo(440);
  }

  @Test
  void theHandlerSeesTheStackAlignedAsAfterACall() {
    Random r = new Random(1);
    for (int i = 0; i < 10_000; i++) {
      long rsp = 0x7fff_0000_0000L + r.nextInt(1 << 20);
      long at = SignalFrame.placement(rsp, false, 0);
      assertThat((at + 8) % 16).isZero();
      assertThat(at + SignalFrame.SIZE).isLessThanOrEqualTo(rsp - SignalFrame.RED_ZONE);
      long alt = SignalFrame.placement(rsp, true, 0x5000_0000L);
      assertThat(alt + SignalFrame.SIZE).isLessThanOrEqualTo(0x5000_0000L);
      assertThat((alt + 8) % 16).isZero();
    }
  }

  @Test
  void registersAndMaskRoundTripAndSitWhereSigcontextHasThem() {
    Random r = new Random(2);
    TrapFrame f = new TrapFrame();
    for (TrapFrame.Field field : TrapFrame.Field.values()) {
      f.set(field, r.nextLong());
    }
    SigInfo info = SigInfo.fault(Signals.SIGSEGV, SigInfo.SEGV_MAPERR, 0xdead000L);
    byte[] b = SignalFrame.build(f, 0x401234, 0x1234_5678L, info, new long[] {0x6000, 0, 0x4000});
    ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    assertThat(bb.getLong(0)).isEqualTo(0x401234);
    int m = SignalFrame.MCONTEXT;
    assertThat(bb.getLong(m)).isEqualTo(f.r8());
    assertThat(bb.getLong(m + 64)).isEqualTo(f.rdi());
    assertThat(bb.getLong(m + 104)).isEqualTo(f.rax());
    assertThat(bb.getLong(m + 120)).isEqualTo(f.rsp());
    assertThat(bb.getLong(m + 128)).isEqualTo(f.rip());
    assertThat(bb.getLong(m + 176)).isEqualTo(0xdead000L); // cr2
    assertThat(bb.getLong(m + 184)).isZero(); // no fpstate
    assertThat(bb.getLong(SignalFrame.SIGMASK)).isEqualTo(0x1234_5678L);
    assertThat(bb.getInt(SignalFrame.SIGINFO)).isEqualTo(Signals.SIGSEGV);
    assertThat(bb.getLong(SignalFrame.SIGINFO + 16)).isEqualTo(0xdead000L);
    assertThat(bb.getLong(SignalFrame.UCONTEXT + 16)).isEqualTo(0x6000); // uc_stack.ss_sp

    TrapFrame back = new TrapFrame();
    long mask = SignalFrame.restore(b, back);
    assertThat(mask).isEqualTo(0x1234_5678L);
    for (TrapFrame.Field field : new TrapFrame.Field[] {
        TrapFrame.Field.RDI, TrapFrame.Field.RSI, TrapFrame.Field.RDX, TrapFrame.Field.RCX, TrapFrame.Field.R8,
        TrapFrame.Field.R9, TrapFrame.Field.RAX, TrapFrame.Field.RBX, TrapFrame.Field.RBP, TrapFrame.Field.R10,
        TrapFrame.Field.R11, TrapFrame.Field.R12, TrapFrame.Field.R13, TrapFrame.Field.R14, TrapFrame.Field.R15,
        TrapFrame.Field.RIP, TrapFrame.Field.RSP, TrapFrame.Field.RFLAGS}) {
      assertThat(back.get(field)).as(field.name()).isEqualTo(f.get(field));
    }
  }

  @Test
  void siginfoOfAChildCarriesPidUidAndStatus() {
    byte[] b = new SigInfo(Signals.SIGCHLD, SigInfo.CLD_EXITED, 42, 1000, 0, 3).toBytes();
    ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    assertThat(bb.getInt(0)).isEqualTo(Signals.SIGCHLD);
    assertThat(bb.getInt(8)).isEqualTo(SigInfo.CLD_EXITED);
    assertThat(bb.getInt(16)).isEqualTo(42);
    assertThat(bb.getInt(20)).isEqualTo(1000);
    assertThat(bb.getInt(24)).isEqualTo(3);
  }
}
