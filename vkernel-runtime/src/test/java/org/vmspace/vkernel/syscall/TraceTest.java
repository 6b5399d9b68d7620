package org.vmspace.vkernel.syscall;

import org.vmspace.vkernel.trace.Trace;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.Signals;

class TraceTest {
  private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
  private final Trace trace = new Trace(new PrintStream(bytes, true, StandardCharsets.UTF_8));

  private String text() {
    return bytes.toString(StandardCharsets.UTF_8);
  }

  @Test
  void callsShowTheirResultErrnoAndDuration() {
    trace.call(2, "openat(AT_FDCWD, \"/x\", O_RDONLY)", -2, false, "/x", 1_234_000);
    trace.call(2, "read(3, 0x1000, 10)", 10, false, null, 5_000);
    trace.call(3, "mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, NULL)", 0x7f0000000000L, true, null, 0);
    trace.noReturn(3, "exit_group(0)");
    assertThat(text()).isEqualTo("""
        [pid 2] openat(AT_FDCWD, "/x", O_RDONLY) = -1 ENOENT (/x) <0.001234>
        [pid 2] read(3, 0x1000, 10) = 10 <0.000005>
        [pid 3] mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, NULL) = 0x7f0000000000 <0.000000>
        [pid 3] exit_group(0) = ?
        """);
  }

  @Test
  void signalsAreShownAsStraceDoes() {
    trace.signal(5, SigInfo.fault(Signals.SIGSEGV, SigInfo.SEGV_MAPERR, 0));
    trace.signal(5, new SigInfo(Signals.SIGCHLD, SigInfo.CLD_EXITED, 6, 0, 0, 3));
    trace.signal(5, SigInfo.user(Signals.SIGTERM, 4, 1000));
    assertThat(text()).isEqualTo("""
        [pid 5] --- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x0} ---
        [pid 5] --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=6, si_uid=0, si_status=3} ---
        [pid 5] --- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=4, si_uid=1000} ---
        """);
  }

  @Test
  void stringsAreQuotedAndCut() {
    assertThat(Trace.quote("a\"b\\c\n\t\u0001".getBytes(StandardCharsets.UTF_8), 100)).isEqualTo("\"a\\\"b\\\\c\\n\\t\\1\"");
    assertThat(Trace.quote("abcdef".getBytes(StandardCharsets.UTF_8), 3)).isEqualTo("\"abc\"...");
  }

  @Test
  void flagsAreDecoded() {
    assertThat(Syscalls.ArgFormat.openFlags(0x80000 | 0x40 | 0x200 | 1)).isEqualTo("O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC");
    assertThat(Syscalls.ArgFormat.prot(0)).isEqualTo("PROT_NONE");
    assertThat(Syscalls.ArgFormat.prot(5)).isEqualTo("PROT_READ|PROT_EXEC");
    assertThat(Syscalls.ArgFormat.mapFlags(0x22)).isEqualTo("MAP_PRIVATE|MAP_ANONYMOUS");
  }
}
