package org.vmspace.vkernel.net;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The guest's control messages (x86-64 {@code struct cmsghdr}: a 64-bit length, then level and
 * type, data 8-byte aligned), read and written as Linux's {@code __scm_send} and {@code
 * scm_detach_fds} do. Pure functions on byte arrays; the descriptors themselves are the caller's.
 */
public final class Ancillary {
  /** sizeof(struct cmsghdr). */
  public static final int CMSG_HDR = 16;
  public static final int SOL_SOCKET = 1;
  public static final int SCM_RIGHTS = 1;
  public static final int SCM_CREDENTIALS = 2;
  /** The most descriptors one message carries (Linux's SCM_MAX_FD). */
  public static final int SCM_MAX_FD = 253;
  /** MSG_CTRUNC: the control buffer was too small for everything. */
  public static final int MSG_CTRUNC = 0x8;

  private Ancillary() {}

  /** CMSG_ALIGN: 8 bytes on x86-64. */
  static long align(long len) {
    return (len + 7) & ~7L;
  }

  /** CMSG_LEN(n). */
  public static long cmsgLen(long dataLen) {
    return CMSG_HDR + dataLen;
  }

  /** CMSG_SPACE(n). */
  public static long cmsgSpace(long dataLen) {
    return CMSG_HDR + align(dataLen);
  }

  /**
   * The descriptor numbers of every SCM_RIGHTS message in a sendmsg control buffer, in order,
   * checked as Linux's {@code __scm_send}: each header must fit in what is left of the buffer
   * and say at least its own size (EINVAL); messages at other levels are skipped; at SOL_SOCKET
   * an SCM_RIGHTS message adds its descriptors (more than {@link #SCM_MAX_FD} in all is EINVAL),
   * SCM_CREDENTIALS is refused with EOPNOTSUPP (not carried by this kernel), any other type is
   * EINVAL. A trailing part shorter than a header is ignored, as CMSG_NXTHDR does.
   *
   * @param check called with each descriptor number as it is read, in Linux's order (it throws
   *     EBADF for one that is not open, before any later message is looked at)
   * @throws SyscallError EINVAL, EOPNOTSUPP as above, or what {@code check} throws
   */
  public static int[] rights(byte[] control, java.util.function.IntConsumer check) {
    ByteBuffer b = ByteBuffer.wrap(control).order(ByteOrder.LITTLE_ENDIAN);
    int[] fds = new int[0];
    long off = 0;
    while (control.length - off >= CMSG_HDR) {
      long len = b.getLong((int) off);
      // CMSG_OK: the length covers the header and stays within the buffer (unsigned compare).
      if (Long.compareUnsigned(len, CMSG_HDR) < 0 || Long.compareUnsigned(len, control.length - off) > 0) {
        throw new SyscallError(LinuxErrno.EINVAL, "bad cmsg_len");
      }
      int level = b.getInt((int) off + 8);
      int type = b.getInt((int) off + 12);
      if (level == SOL_SOCKET) {
        switch (type) {
          case SCM_RIGHTS -> {
            int n = (int) ((len - CMSG_HDR) / 4);
            if (n > 0) {
              if (n > SCM_MAX_FD || fds.length + n > SCM_MAX_FD) {
                throw new SyscallError(LinuxErrno.EINVAL, "more than SCM_MAX_FD descriptors");
              }
              int base = fds.length;
              fds = Arrays.copyOf(fds, base + n);
              for (int i = 0; i < n; i++) {
                fds[base + i] = b.getInt((int) off + CMSG_HDR + 4 * i);
                check.accept(fds[base + i]);
              }
            }
          }
          case SCM_CREDENTIALS -> throw new SyscallError(LinuxErrno.EOPNOTSUPP, "SCM_CREDENTIALS is not supported");
          default -> throw new SyscallError(LinuxErrno.EINVAL, "unknown SOL_SOCKET control message " + type);
        }
      }
      off += align(len);
    }
    return fds;
  }

  /**
   * How many received descriptors a control buffer of {@code controlLen} bytes has room for
   * (Linux's {@code scm_max_fds}), at most {@code count}.
   */
  public static int room(long controlLen, int count) {
    if (Long.compareUnsigned(controlLen, CMSG_HDR) <= 0) {
      return 0;
    }
    long max = Long.divideUnsigned(controlLen - CMSG_HDR, 4);
    return Long.compareUnsigned(max, count) < 0 ? (int) max : count;
  }

  /**
   * The SCM_RIGHTS message for the descriptors the receiver got, as {@code scm_detach_fds}
   * writes it: {@code cmsg_len} CMSG_LEN(4n), then the numbers. The caller copies {@code
   * min(CMSG_SPACE(4n), controlLen)} bytes of it (the whole array is CMSG_SPACE(4n) bytes) and
   * reports that as the msg_controllen used.
   */
  public static byte[] rightsMessage(int[] fds) {
    ByteBuffer b = ByteBuffer.allocate((int) cmsgSpace(4L * fds.length)).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(0, cmsgLen(4L * fds.length));
    b.putInt(8, SOL_SOCKET);
    b.putInt(12, SCM_RIGHTS);
    for (int i = 0; i < fds.length; i++) {
      b.putInt(CMSG_HDR + 4 * i, fds[i]);
    }
    return b.array();
  }

  /** The msg_controllen a receive reports after writing {@code message} into {@code controlLen}. */
  public static long used(byte[] message, long controlLen) {
    return Long.compareUnsigned(controlLen, message.length) < 0 ? controlLen : message.length;
  }
}
