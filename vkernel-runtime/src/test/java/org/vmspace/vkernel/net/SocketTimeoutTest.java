package org.vmspace.vkernel.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/** SO_RCVTIMEO/SO_SNDTIMEO values as Linux's sock_set_timeout and sock_get_timeout keep them. */
class SocketTimeoutTest {
  @Test
  void roundedUpToJiffiesAndReadBack() {
    assertThat(SocketTimeout.jiffies(0, 200_000)).isEqualTo(50);
    assertThat(SocketTimeout.timeval(50)).containsExactly(0, 200_000);
    assertThat(SocketTimeout.jiffies(0, 1)).isEqualTo(1);
    assertThat(SocketTimeout.timeval(1)).containsExactly(0, 4000);
    assertThat(SocketTimeout.jiffies(2, 4001)).isEqualTo(502);
    assertThat(SocketTimeout.timeval(502)).containsExactly(2, 8000);
    assertThat(SocketTimeout.nanos(50)).isEqualTo(200_000_000L);
  }

  @Test
  void zeroNegativeAndHugeMeanNone() {
    assertThat(SocketTimeout.jiffies(0, 0)).isZero();
    assertThat(SocketTimeout.jiffies(-5, 0)).isZero();
    assertThat(SocketTimeout.jiffies(Long.MAX_VALUE, 0)).isZero();
    assertThat(SocketTimeout.timeval(0)).containsExactly(0, 0);
  }

  @Test
  void microsecondsOutOfRangeAreEdom() {
    for (long usec : new long[] {-1, 1_000_000}) {
      assertThatThrownBy(() -> SocketTimeout.jiffies(1, usec)).isInstanceOf(SyscallError.class)
          .satisfies(e -> assertThat(((SyscallError) e).errno()).isEqualTo(LinuxErrno.EDOM));
    }
  }

  @Test
  void theLongestTimeoutsSaturateInsteadOfWrappingTheDeadline() {
    long longest = SocketTimeout.jiffies(Long.MAX_VALUE / SocketTimeout.HZ - 2, 999_999);
    assertThat(longest).isPositive();
    assertThat(SocketTimeout.nanos(longest)).isEqualTo(SocketTimeout.LONGEST_NANOS);
    SocketTimeouts t = new SocketTimeouts();
    assertThat(t.receiveDeadline()).as("none").isZero();
    t.receive(longest);
    long before = System.nanoTime();
    assertThat(t.receiveDeadline() - before).isGreaterThanOrEqualTo(SocketTimeout.LONGEST_NANOS);
    t.send(SocketTimeout.jiffies(0, 1));
    before = System.nanoTime();
    assertThat(t.sendDeadline() - before).as("one jiffy").isGreaterThanOrEqualTo(4_000_000L);
  }
}
