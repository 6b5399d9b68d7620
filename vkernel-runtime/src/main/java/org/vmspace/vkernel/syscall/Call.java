package org.vmspace.vkernel.syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.vmspace.api.TrapFrame;
import org.vmspace.vkernel.fs.FdTable;
import org.vmspace.vkernel.fs.FileDescription;
import org.vmspace.vkernel.mem.UserMemory;
import org.vmspace.vkernel.proc.Kernel;
import org.vmspace.vkernel.proc.Task;
import org.vmspace.vkernel.proc.ThreadGroup;

/**
 * One system call being handled: the calling thread, its process and kernel, and the arguments
 * ({@code rdi rsi rdx r10 r8 r9}, in the frame's {@code rdi rsi rdx rcx r8 r9}). A thread's
 * calls share one instance (see {@link Syscalls}), since nothing in it is the call's own but the
 * arguments, which live in the frame.
 */
public final class Call {
  /** The largest buffer one copy moves between the guest and the host. */
  static final int CHUNK = 256 * 1024;
  private static final ThreadLocal<MemorySegment> BUFFER =
      ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CHUNK, 4096));

  final Task thread;
  final ThreadGroup process;
  final Kernel kernel;
  final TrapFrame frame;
  /** Arguments in place of the frame's, or null. */
  private final long[] args;

  /**
   * The calls of {@code thread}: everything here is the thread's for its whole life (the
   * arguments are read from its frame when asked for), so one instance serves every system call
   * it makes, and a handler may keep it (in a wake-up callback, say) beyond its call.
   */
  Call(Task thread) {
    this.thread = thread;
    this.process = thread.process();
    this.kernel = thread.kernel();
    this.frame = thread.frame;
    this.args = null;
  }

  private Call(Call base, long[] args) {
    this.thread = base.thread;
    this.process = base.process;
    this.kernel = base.kernel;
    this.frame = base.frame;
    this.args = args;
  }

  /**
   * The same call with other arguments (the rest 0): for calls made of others, as sendmmsg of
   * one sendmsg per message, whatever the socket's family.
   */
  Call withArgs(long... a) {
    return new Call(this, java.util.Arrays.copyOf(a, 6));
  }

  /** Argument {@code i} (0-5). */
  long a(int i) {
    if (args != null) {
      return args[i];
    }
    return switch (i) {
      case 0 -> frame.rdi();
      case 1 -> frame.rsi();
      case 2 -> frame.rdx();
      case 3 -> frame.rcx();
      case 4 -> frame.r8();
      case 5 -> frame.r9();
      default -> throw new IllegalArgumentException("argument " + i);
    };
  }

  /** Argument {@code i} as a C int. */
  int i(int i) {
    return (int) a(i);
  }

  UserMemory mem() {
    return process.mm().memory();
  }

  FdTable fds() {
    return process.fdTable();
  }

  FileDescription fd(int i) {
    return fds().get(i(i));
  }

  /** The path at argument {@code i} (at most PATH_MAX bytes). */
  String path(int i) {
    return mem().readCString(a(i), 4096);
  }

  /** This thread's copy buffer ({@link #CHUNK} bytes). */
  static MemorySegment buffer() {
    return BUFFER.get();
  }
}
