package org.vmspace.vkernel.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/** Control messages as Linux's __scm_send reads them and scm_detach_fds writes them. */
class AncillaryTest {
  /** A control buffer of messages {len, level, type, ints...}, each padded to 8 bytes. */
  private static byte[] control(long[]... msgs) {
    ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
    int off = 0;
    for (long[] m : msgs) {
      b.putLong(off, m[0]);
      b.putInt(off + 8, (int) m[1]);
      b.putInt(off + 12, (int) m[2]);
      for (int i = 3; i < m.length; i++) {
        b.putInt(off + 16 + 4 * (i - 3), (int) m[i]);
      }
      off += (int) Ancillary.cmsgSpace(4L * (m.length - 3));
    }
    byte[] out = new byte[off];
    b.get(0, out);
    return out;
  }

  private static int errno(Runnable r) {
    try {
      r.run();
    } catch (SyscallError e) {
      return e.errno();
    }
    return 0;
  }

  @Test
  void rightsAreCollectedInOrderAcrossMessages() {
    List<Integer> seen = new ArrayList<>();
    int[] fds = Ancillary.rights(control(new long[] {20, 1, 1, 5}, new long[] {24, 1, 1, 7, 8}), seen::add);
    assertThat(fds).containsExactly(5, 7, 8);
    assertThat(seen).containsExactly(5, 7, 8);
  }

  @Test
  void otherLevelsAreSkippedAndEmptyRightsAddNothing() {
    int[] fds = Ancillary.rights(control(new long[] {20, 6, 99, 1}, new long[] {16, 1, 1}), fd -> {});
    assertThat(fds).isEmpty();
  }

  @Test
  void badLengthsAreInvalid() {
    assertThat(errno(() -> Ancillary.rights(control(new long[] {8, 1, 1, 3}), fd -> {}))).isEqualTo(LinuxErrno.EINVAL);
    assertThat(errno(() -> Ancillary.rights(control(new long[] {32, 1, 1, 3}), fd -> {}))).isEqualTo(LinuxErrno.EINVAL);
    // Unsigned: a "negative" length is past the buffer, not short.
    assertThat(errno(() -> Ancillary.rights(control(new long[] {-1, 1, 1, 3}), fd -> {}))).isEqualTo(LinuxErrno.EINVAL);
    // A bad length at another level is still invalid (CMSG_OK comes first).
    assertThat(errno(() -> Ancillary.rights(control(new long[] {4, 6, 1, 3}), fd -> {}))).isEqualTo(LinuxErrno.EINVAL);
  }

  @Test
  void unknownTypesAndCredentials() {
    assertThat(errno(() -> Ancillary.rights(control(new long[] {20, 1, 3, 0}), fd -> {}))).isEqualTo(LinuxErrno.EINVAL);
    assertThat(errno(() -> Ancillary.rights(control(new long[] {28, 1, 2, 1, 0, 0}), fd -> {})))
        .isEqualTo(LinuxErrno.EOPNOTSUPP);
  }

  @Test
  void aShortTailIsIgnored() {
    byte[] c = control(new long[] {20, 1, 1, 4});
    byte[] longer = java.util.Arrays.copyOf(c, c.length + 15);
    assertThat(Ancillary.rights(longer, fd -> {})).containsExactly(4);
  }

  @Test
  void moreThanScmMaxFdIsInvalid() {
    long[] m = new long[3 + 254];
    m[0] = Ancillary.cmsgLen(4 * 254);
    m[1] = 1;
    m[2] = 1;
    assertThat(errno(() -> Ancillary.rights(control(m), fd -> {}))).isEqualTo(LinuxErrno.EINVAL);
    long[] half = new long[3 + 127];
    half[0] = Ancillary.cmsgLen(4 * 127);
    half[1] = 1;
    half[2] = 1;
    // Two messages of 127 are 254 in all: one past SCM_MAX_FD; 126 and 127 are exactly 253.
    assertThat(errno(() -> Ancillary.rights(control(half, half.clone()), fd -> {}))).isEqualTo(LinuxErrno.EINVAL);
    long[] less = new long[3 + 126];
    less[0] = Ancillary.cmsgLen(4 * 126);
    less[1] = 1;
    less[2] = 1;
    assertThat(Ancillary.rights(control(less, half), fd -> {})).hasSize(253);
  }

  @Test
  void theCheckStopsAtTheFirstBadDescriptor() {
    List<Integer> seen = new ArrayList<>();
    assertThatThrownBy(() -> Ancillary.rights(control(new long[] {24, 1, 1, 3, 999}, new long[] {8, 1, 1}), fd -> {
      seen.add(fd);
      if (fd == 999) {
        throw new SyscallError(LinuxErrno.EBADF);
      }
    })).isInstanceOf(SyscallError.class).satisfies(e -> assertThat(((SyscallError) e).errno()).isEqualTo(LinuxErrno.EBADF));
    assertThat(seen).containsExactly(3, 999);
  }

  @Test
  void roomIsScmMaxFdsOfTheBuffer() {
    assertThat(Ancillary.room(0, 3)).isZero();
    assertThat(Ancillary.room(16, 3)).isZero();
    assertThat(Ancillary.room(20, 3)).isEqualTo(1);
    assertThat(Ancillary.room(24, 3)).isEqualTo(2);
    assertThat(Ancillary.room(1 << 20, 3)).isEqualTo(3);
    assertThat(Ancillary.room(-1L, 3)).as("unsigned").isEqualTo(3);
  }

  @Test
  void theReceivedMessageAndTheLengthUsed() {
    byte[] m = Ancillary.rightsMessage(new int[] {3, 4, 5});
    ByteBuffer b = ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN);
    assertThat(m).hasSize(32); // CMSG_SPACE(12)
    assertThat(b.getLong(0)).isEqualTo(28); // CMSG_LEN(12)
    assertThat(b.getInt(8)).isEqualTo(1);
    assertThat(b.getInt(12)).isEqualTo(1);
    assertThat(b.getInt(16)).isEqualTo(3);
    assertThat(b.getInt(24)).isEqualTo(5);
    assertThat(Ancillary.used(m, 1000)).isEqualTo(32);
    assertThat(Ancillary.used(m, 28)).as("a buffer that holds the data but not the padding").isEqualTo(28);
  }
}
