package org.vmspace.vkernel.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Parsing of {@code vkernel run}'s command line (no guest is run here). */
class RunCommandTest {
  private static RunCommand parse(String... args) {
    RunCommand run = new RunCommand();
    CommandLine cl = new CommandLine(run);
    cl.setStopAtPositional(true);
    cl.parseArgs(args);
    return run;
  }

  @Test
  void durationsTakeUnitsOrIso() {
    assertThat(RunCommand.parseDuration("30s")).isEqualTo(Duration.ofSeconds(30));
    assertThat(RunCommand.parseDuration("500ms")).isEqualTo(Duration.ofMillis(500));
    assertThat(RunCommand.parseDuration("2m")).isEqualTo(Duration.ofMinutes(2));
    assertThat(RunCommand.parseDuration("1.5h")).isEqualTo(Duration.ofMinutes(90));
    assertThat(RunCommand.parseDuration("10")).isEqualTo(Duration.ofSeconds(10));
    assertThat(RunCommand.parseDuration("PT3S")).isEqualTo(Duration.ofSeconds(3));
    assertThatThrownBy(() -> RunCommand.parseDuration("soon")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> RunCommand.parseDuration("0s")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void traceTakesAFileOnlyWhenAttached() {
    RunCommand bare = parse("--trace", "prog", "arg");
    assertThat(bare.trace).isEqualTo("-");
    assertThat(bare.program).isEqualTo("prog");
    assertThat(bare.args).containsExactly("arg");
    RunCommand file = parse("--trace=out.txt", "prog");
    assertThat(file.trace).isEqualTo("out.txt");
    assertThat(file.program).isEqualTo("prog");
  }

  @Test
  void everythingAfterTheProgramIsItsOwn() {
    RunCommand r = parse("--env", "A=1", "--env=B=2", "ls", "-l", "--trace", "--", "x");
    assertThat(r.env).containsExactly("A=1", "B=2");
    assertThat(r.program).isEqualTo("ls");
    assertThat(r.args).containsExactly("-l", "--trace", "--", "x");
    assertThat(r.trace).isNull();
  }

  @Test
  void accelIsAutoUnlessSaidOtherwiseInAnyCase() {
    assertThat(parse("prog").accel.mode).isEqualTo(Accel.Mode.AUTO);
    assertThat(parse("--accel=KVM", "prog").accel.mode).isEqualTo(Accel.Mode.KVM);
    assertThat(parse("--accel", "emulated", "prog").accel.mode).isEqualTo(Accel.Mode.EMULATED);
    StringWriter err = new StringWriter();
    int status = VkernelCommand.execute(new String[] {"run", "--accel=tcg", "prog"},
        new PrintWriter(new StringWriter()), new PrintWriter(err));
    assertThat(status).isEqualTo(2);
    assertThat(err.toString()).contains("'tcg': want auto, kvm or emulated");
  }

  @Test
  void badOptionsAreOneLineAndStatus2() {
    StringWriter err = new StringWriter();
    int status = VkernelCommand.execute(new String[] {"run", "--timeout", "soon", "prog"},
        new PrintWriter(new StringWriter()), new PrintWriter(err));
    assertThat(status).isEqualTo(2);
    assertThat(err.toString()).contains("--timeout: cannot parse 'soon'");
  }

  @Test
  void cpusIsOneToSixtyFour() {
    assertThat(parse("--cpus=4", "prog").cpus).isEqualTo(4);
    assertThat(parse("prog").cpus).isNull();
    for (String bad : new String[] {"0", "65", "-1"}) {
      StringWriter err = new StringWriter();
      int status = VkernelCommand.execute(new String[] {"run", "--cpus=" + bad, "prog"},
          new PrintWriter(new StringWriter()), new PrintWriter(err));
      assertThat(status).as(bad).isEqualTo(2);
      assertThat(err.toString()).contains("--cpus wants 1-64, got " + bad);
    }
  }

  @Test
  void netIsHostLoopbackOrNone() {
    assertThat(parse("--net=host", "prog").net).isEqualTo("host");
    assertThat(parse("prog").net).isNull();
    StringWriter err = new StringWriter();
    int status = VkernelCommand.execute(new String[] {"run", "--net=bridge", "prog"},
        new PrintWriter(new StringWriter()), new PrintWriter(err));
    assertThat(status).isEqualTo(2);
    assertThat(err.toString()).contains("--net wants host, loopback or none, got 'bridge'");
  }

  @Test
  void theCapsAreParsedAndBadOnesAreOneLineAndStatus2() {
    RunCommand r = parse("--memory=512M", "--pids", "64", "--files=4096", "prog");
    assertThat(r.memory).isEqualTo("512M");
    assertThat(r.pids).isEqualTo(64);
    assertThat(r.files).isEqualTo(4096);
    String[][] bad = {
      {"--memory=lots", "--memory: cannot parse 'lots'"},
      {"--memory=1M", "--memory must be at least 16M"},
      {"--pids=0", "--pids wants a positive count, got 0"},
      {"--files=0", "--files wants 1-1048576, got 0"},
      {"--files=1048577", "--files wants 1-1048576, got 1048577"},
    };
    for (String[] b : bad) {
      StringWriter err = new StringWriter();
      int status = VkernelCommand.execute(new String[] {"run", b[0], "prog"}, new PrintWriter(new StringWriter()),
          new PrintWriter(err));
      assertThat(status).as(b[0]).isEqualTo(2);
      assertThat(err.toString()).as(b[0]).contains(b[1]);
    }
  }
}
