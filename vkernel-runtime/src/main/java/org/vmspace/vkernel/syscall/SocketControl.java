package org.vmspace.vkernel.syscall;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.net.Ancillary;
import org.vmspace.vkernel.net.InFlight;
import org.vmspace.vkernel.net.UnixSocket;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * SCM_RIGHTS for {@link SocketMessages}: the descriptors of a sendmsg's control part become an
 * {@link InFlight} token that rides on the host message, and the token a receive brings back
 * becomes descriptors in the receiver's table and an SCM_RIGHTS message in its control buffer
 * (MSG_CTRUNC and the excess closed when it is too small, MSG_CMSG_CLOEXEC honoured).
 */
final class SocketControl {
  /**
   * Linux 6.1's net.core.optmem_max: a larger control part cannot be copied in (ENOBUFS).
   * Linux 6.9 raised it to 128 KiB; guests pass a few descriptors, far below either.
   */
  private static final long OPTMEM_MAX = 20480;
  /** Room for host control data on a receive: one token is all a host message carries. */
  static final int HOST_CONTROL = 64;

  private SocketControl() {}

  /**
   * The token for the descriptors a sendmsg's control part passes, or null if it passes none.
   * Checked as Linux does, before the socket is looked at further: ENOBUFS for a control part
   * past optmem_max, EFAULT, then the messages in order (EINVAL, EBADF).
   */
  static InFlight.Token rightsToSend(Call c, UnixSocket s, long control, long controlLen) {
    if (controlLen == 0) {
      return null;
    }
    if (Long.compareUnsigned(controlLen, OPTMEM_MAX) > 0) {
      throw new SyscallError(LinuxErrno.ENOBUFS);
    }
    byte[] bytes = c.mem().readBytes(control, (int) controlLen);
    List<FileDescription> files = new ArrayList<>();
    try {
      Ancillary.rights(bytes, fd -> {
        FileDescription d = c.fds().get(fd);
        if (!d.tryRetain()) {
          throw new SyscallError(LinuxErrno.EBADF); // closed by another thread meanwhile
        }
        files.add(d);
      });
    } catch (RuntimeException e) {
      files.forEach(FileDescription::release);
      throw e;
    }
    if (files.isEmpty()) {
      return null;
    }
    return s.namespace().inFlight().attach(files);
  }

  /**
   * The descriptions of the tokens in a host receive's control data ({@code used} bytes of
   * {@code hostControl}): each SCM_RIGHTS descriptor is claimed (and closed).
   */
  static List<FileDescription> claim(UnixSocket s, MemorySegment hostControl, long used, boolean peek) {
    List<FileDescription> files = new ArrayList<>();
    long off = 0;
    while (used - off >= Ancillary.CMSG_HDR) {
      long len = hostControl.get(ValueLayout.JAVA_LONG, off);
      if (len < Ancillary.CMSG_HDR || len > used - off) {
        break;
      }
      if (hostControl.get(ValueLayout.JAVA_INT, off + 8) == Ancillary.SOL_SOCKET
          && hostControl.get(ValueLayout.JAVA_INT, off + 12) == Ancillary.SCM_RIGHTS) {
        for (long i = Ancillary.CMSG_HDR; i + 4 <= len; i += 4) {
          files.addAll(s.namespace().inFlight().claim(hostControl.get(ValueLayout.JAVA_INT, off + i), peek));
        }
      }
      off += (len + 7) & ~7L;
    }
    return files;
  }

  /**
   * Gives the receiver {@code files} (whose references it takes over) as Linux's {@code
   * scm_detach_fds}: as many as the control buffer has room for are installed at the lowest free
   * descriptors (close-on-exec with MSG_CMSG_CLOEXEC) and listed in one SCM_RIGHTS message; the
   * rest are released and MSG_CTRUNC is set, as it is when there is no control buffer at all.
   *
   * @param flags msg_flags so far; MSG_CTRUNC is added here
   * @return {msg_controllen used, msg_flags}
   */
  static long[] deliver(Call c, List<FileDescription> files, long control, long controlLen, boolean cloexec, int flags) {
    if (files.isEmpty()) {
      return new long[] {0, flags};
    }
    int room = control == 0 ? 0 : Ancillary.room(controlLen, files.size());
    int[] fds = new int[room];
    int installed = 0;
    try {
      for (; installed < room; installed++) {
        fds[installed] = c.fds().install(files.get(installed), 0, cloexec);
      }
    } catch (SyscallError e) {
      // EMFILE: install released that one; the others are released below, as Linux stops there.
      files.set(installed, null);
    }
    for (int i = installed; i < files.size(); i++) {
      if (files.get(i) != null) {
        files.get(i).release();
      }
    }
    if (installed < files.size()) {
      flags |= Ancillary.MSG_CTRUNC;
    }
    if (installed == 0) {
      return new long[] {0, flags};
    }
    byte[] message = Ancillary.rightsMessage(java.util.Arrays.copyOf(fds, installed));
    long used = Ancillary.used(message, controlLen);
    try {
      c.mem().writeBytes(control, java.util.Arrays.copyOf(message, (int) used));
    } catch (SyscallError e) {
      // Nowhere to tell the numbers: the new descriptors are closed again, as Linux gives back
      // a descriptor whose number it could not store.
      for (int i = 0; i < installed; i++) {
        c.fds().close(fds[i]);
      }
      return new long[] {0, flags | Ancillary.MSG_CTRUNC};
    }
    return new long[] {used, flags};
  }
}
