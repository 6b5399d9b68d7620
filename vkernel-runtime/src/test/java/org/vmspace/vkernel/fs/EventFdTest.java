package org.vmspace.vkernel.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;
import org.vmspace.vkernel.host.Host;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/** eventfd and timerfd descriptions on the host: counters, limits, flags, timers' counts. */
class EventFdTest {
  private static final short POLLIN = 1;
  private static final short POLLOUT = 4;
  private final Arena arena = Arena.ofAuto();

  private long read(FileDescription d) {
    MemorySegment buf = arena.allocate(8, 8);
    assertThat(d.read(buf, 8)).isEqualTo(8);
    return buf.get(ValueLayout.JAVA_LONG, 0);
  }

  private void write(FileDescription d, long v) {
    MemorySegment buf = arena.allocate(8, 8);
    buf.set(ValueLayout.JAVA_LONG, 0, v);
    assertThat(d.write(buf, 8)).isEqualTo(8);
  }

  private static void assertErrno(Runnable r, int errno) {
    assertThatThrownBy(r::run).isInstanceOf(SyscallError.class)
        .satisfies(e -> assertThat(((SyscallError) e).errno()).isEqualTo(errno));
  }

  /** The poll events the host reports for {@code d} now. */
  private short ready(FileDescription d, short events, int timeoutMs) {
    MemorySegment p = arena.allocate(8, 4);
    p.set(ValueLayout.JAVA_INT, 0, d.pollFd());
    p.set(ValueLayout.JAVA_SHORT, 4, events);
    assertThat(Host.poll(p, 1, timeoutMs)).isGreaterThanOrEqualTo(0);
    return p.get(ValueLayout.JAVA_SHORT, 6);
  }

  @Test
  void aCounterSumsWritesAndAReadTakesAllOfIt() {
    EventFd d = EventFd.create(3, 0);
    try {
      assertThat(d.path()).isEqualTo("anon_inode:[eventfd]");
      assertThat(d.nonBlocking()).isFalse();
      assertThat(d.pollFd()).isGreaterThanOrEqualTo(0);
      write(d, 5);
      write(d, 7);
      assertThat(read(d)).isEqualTo(15);
      // Empty: the host descriptor never blocks; the syscall layer waits for POLLIN.
      assertErrno(() -> read(d), LinuxErrno.EAGAIN);
      assertThat(ready(d, (short) (POLLIN | POLLOUT), 0)).isEqualTo(POLLOUT);
    } finally {
      d.release();
    }
  }

  @Test
  void semaphoreReadsTakeOneAtATime() {
    EventFd d = EventFd.create(2, EventFd.EFD_SEMAPHORE | Host.O_NONBLOCK);
    try {
      assertThat(d.nonBlocking()).isTrue();
      assertThat(read(d)).isEqualTo(1);
      assertThat(read(d)).isEqualTo(1);
      assertErrno(() -> read(d), LinuxErrno.EAGAIN);
    } finally {
      d.release();
    }
  }

  @Test
  void shortBuffersTheLargestValueAndOverflowAreRefused() {
    EventFd d = EventFd.create(0, 0);
    try {
      MemorySegment small = arena.allocate(8, 8);
      assertErrno(() -> d.read(small, 7), LinuxErrno.EINVAL);
      assertErrno(() -> d.write(small, 4), LinuxErrno.EINVAL);
      assertErrno(() -> write(d, -1L), LinuxErrno.EINVAL);
      write(d, 0xfffffffffffffffeL);
      assertThat(ready(d, (short) (POLLIN | POLLOUT), 0)).isEqualTo(POLLIN);
      // Past 0xfffffffffffffffe a write waits (here: EAGAIN, the syscall layer waits for POLLOUT).
      assertErrno(() -> write(d, 1), LinuxErrno.EAGAIN);
      assertThat(read(d)).isEqualTo(0xfffffffffffffffeL);
    } finally {
      d.release();
    }
  }

  @Test
  void unknownFlagsAreEinval() {
    assertErrno(() -> EventFd.create(0, 0x10), LinuxErrno.EINVAL);
    assertErrno(() -> TimerFd.create(1, 1), LinuxErrno.EINVAL);
    assertErrno(() -> TimerFd.create(12345, 0), LinuxErrno.EINVAL);
  }

  private MemorySegment itimerspec(long intervalNs, long valueSec, long valueNs) {
    MemorySegment s = arena.allocate(TimerFd.ITIMERSPEC_SIZE, 8);
    s.set(ValueLayout.JAVA_LONG, 0, intervalNs / 1_000_000_000L);
    s.set(ValueLayout.JAVA_LONG, 8, intervalNs % 1_000_000_000L);
    s.set(ValueLayout.JAVA_LONG, 16, valueSec);
    s.set(ValueLayout.JAVA_LONG, 24, valueNs);
    return s;
  }

  @Test
  void aTimerCountsExpirationsAndReportsItsSetting() {
    TimerFd t = TimerFd.create(1 /* CLOCK_MONOTONIC */, Host.O_NONBLOCK);
    try {
      assertThat(t.path()).isEqualTo("anon_inode:[timerfd]");
      assertErrno(() -> read(t), LinuxErrno.EAGAIN);
      t.setTime(0, itimerspec(1_000_000, 0, 1_000_000), MemorySegment.NULL);
      MemorySegment cur = arena.allocate(TimerFd.ITIMERSPEC_SIZE, 8);
      t.getTime(cur);
      assertThat(cur.get(ValueLayout.JAVA_LONG, 8)).isEqualTo(1_000_000);
      assertThat(ready(t, POLLIN, -1)).isEqualTo(POLLIN);
      assertThat(read(t)).isGreaterThanOrEqualTo(1);
      MemorySegment old = arena.allocate(TimerFd.ITIMERSPEC_SIZE, 8);
      t.setTime(0, itimerspec(0, 0, 0), old);
      assertThat(old.get(ValueLayout.JAVA_LONG, 8)).isEqualTo(1_000_000);
      t.getTime(cur);
      assertThat(cur.get(ValueLayout.JAVA_LONG, 16)).isZero();
      assertThat(cur.get(ValueLayout.JAVA_LONG, 24)).isZero();
      assertErrno(() -> t.setTime(4, itimerspec(0, 0, 1), MemorySegment.NULL), LinuxErrno.EINVAL);
      assertErrno(() -> t.setTime(0, itimerspec(0, 0, 1_000_000_000L), MemorySegment.NULL), LinuxErrno.EINVAL);
    } finally {
      t.release();
    }
  }

  @Test
  void setTimeChecksFlagsAndBothFieldsBeforeTheDescriptor() {
    TimerFd.checkSetTime(3, itimerspec(999_999_999L, 5, 999_999_999L));
    assertErrno(() -> TimerFd.checkSetTime(4, itimerspec(0, 0, 1)), LinuxErrno.EINVAL);
    assertErrno(() -> TimerFd.checkSetTime(0, itimerspec(0, -1, 0)), LinuxErrno.EINVAL);
    assertErrno(() -> TimerFd.checkSetTime(0, itimerspec(0, 0, 1_000_000_000L)), LinuxErrno.EINVAL);
    assertErrno(() -> TimerFd.checkSetTime(0, itimerspec(0, 0, -1)), LinuxErrno.EINVAL);
    MemorySegment badInterval = itimerspec(0, 0, 1);
    badInterval.set(ValueLayout.JAVA_LONG, 8, 1_000_000_000L);
    assertErrno(() -> TimerFd.checkSetTime(0, badInterval), LinuxErrno.EINVAL);
  }

  @Test
  void anAbsoluteTimerInThePastExpiresOnce() {
    TimerFd t = TimerFd.create(0 /* CLOCK_REALTIME */, 0);
    try {
      t.setTime(1 /* TFD_TIMER_ABSTIME */, itimerspec(0, 1, 0), MemorySegment.NULL);
      assertThat(ready(t, POLLIN, -1)).isEqualTo(POLLIN);
      assertThat(read(t)).isEqualTo(1);
    } finally {
      t.release();
    }
  }
}
