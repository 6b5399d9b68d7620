package org.vmspace.vkernel.proc;

import java.util.ArrayDeque;
import org.vmspace.api.Trap;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.vkernel.signal.SigAction;
import org.vmspace.vkernel.signal.SigInfo;
import org.vmspace.vkernel.signal.SignalFrame;
import org.vmspace.vkernel.signal.Signals;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * Delivering one task's signals on its way back to the guest: default actions, handler frames
 * on the guest stack (or the sigaltstack), the restart of the system call a signal interrupted,
 * and rt_sigreturn. As the delivery half of gVisor's {@code task_signals.go}; which signals are
 * blocked and pending is {@link SignalState}'s.
 *
 * <p>Guarantees: its state (the alternate stack, the call to restart, the vector state the guest
 * runs with and the ones each running handler interrupted) is the task's own thread's alone, so
 * it takes no lock; a handler runs with a fresh vector state and the interrupted one comes back
 * at its rt_sigreturn, at most {@value #MAX_NESTED_HANDLERS} deep; the fs and gs bases are
 * thread state and survive both.
 */
public final class SignalDelivery {
  public static final int SS_ONSTACK = 1;
  public static final int SS_DISABLE = 2;
  /** A system call interrupted by a handler returns EINTR (after one without a handler it is restarted). */
  public static final int ERESTARTNOHAND = 514;
  /** Signal frames whose interrupted vector state is kept; deeper ones (siglongjmp) are dropped. */
  private static final int MAX_NESTED_HANDLERS = 64;

  private final Task task;
  private final ThreadGroup process;
  private final TrapFrame frame;

  private VextFrame vext = new VextFrame();
  /** The vector state of the code each running signal handler interrupted, innermost first. */
  private final ArrayDeque<VextFrame> interrupted = new ArrayDeque<>();
  /**
   * The siginfo of the signal being delivered: one array for the thread's life, since {@link
   * #deliverSignals} runs before every entry into the guest (issue 17, no allocation there).
   */
  private final SigInfo[] taken = new SigInfo[1];
  /** sigaltstack: base, size and flags (SS_DISABLE when there is none). */
  private long altSp;
  private long altSize;
  private int altFlags = SS_DISABLE;
  /** A system call to restart (ERESTARTSYS or ERESTARTNOHAND) and its number. */
  private int restart;
  private long restartNr;

  SignalDelivery(Task task, ThreadGroup process) {
    this.task = task;
    this.process = process;
    this.frame = task.frame;
  }

  /** The vext frame the guest runs with now (a handler's while one runs). */
  VextFrame vext() {
    return vext;
  }

  /** execve: a fresh vector state, no handler frames and no alternate stack. */
  void resetForExec() {
    vext = new VextFrame();
    interrupted.clear();
    altFlags = SS_DISABLE;
    altSp = 0;
    altSize = 0;
  }

  /** fork: the child's alternate stack is the parent's. */
  void copyAltStack(SignalDelivery parent) {
    altSp = parent.altSp;
    altSize = parent.altSize;
    altFlags = parent.altFlags;
  }

  /**
   * Marks the system call just made for restart if a signal interrupts it: {@code code} is
   * {@link LinuxErrno#ERESTARTSYS} (restarted after a handler with SA_RESTART) or {@link
   * #ERESTARTNOHAND} (EINTR after any handler); without a handler it is always restarted.
   */
  public void restartAfterSignal(int code, long nr) {
    restart = code;
    restartNr = nr;
  }

  /**
   * Delivers the pending signals: runs default actions and sets up handler frames.
   *
   * @return false if the thread must stop (the process is exiting)
   */
  boolean deliverSignals() {
    SigInfo[] info = taken;
    try {
      return deliverTaking(info);
    } finally {
      info[0] = null; // no delivered siginfo kept reachable
    }
  }

  private boolean deliverTaking(SigInfo[] info) {
    while (true) {
      if (task.exiting()) {
        return false;
      }
      int sig = task.signals().takeDeliverable(info);
      if (sig == 0) {
        break;
      }
      process.signalsChanged();
      SigAction a = process.action(sig);
      if (sig == Signals.SIGKILL) {
        process.requestExit(Signals.SIGKILL);
        return false;
      }
      if (a.handler() == SigAction.SIG_IGN) {
        continue;
      }
      if (a.handler() == SigAction.SIG_DFL) {
        switch (Signals.defaultAction(sig)) {
          case IGNORE, STOP -> {
            continue;
          }
          case TERMINATE, CORE -> {
            TaskSignals.traceSignal(task, info[0]);
            process.requestExit(sig);
            return false;
          }
        }
      }
      TaskSignals.traceSignal(task, info[0]);
      if (!runHandler(sig, info[0], a)) {
        return false;
      }
    }
    if (restart != 0) {
      // No handler ran: the call is restarted transparently.
      frame.rip(frame.rip() - Trap.SYSCALL_INSN_LENGTH).rax(restartNr);
      restart = 0;
    }
    task.signals().restoreSavedMask();
    return true;
  }

  /** Builds the handler's frame on the guest stack; false if that faulted and killed the process. */
  private boolean runHandler(int sig, SigInfo info, SigAction a) {
    if (restart != 0) {
      if (restart == LinuxErrno.ERESTARTSYS && (a.flags() & SigAction.SA_RESTART) != 0) {
        frame.rip(frame.rip() - Trap.SYSCALL_INSN_LENGTH).rax(restartNr);
      } else {
        frame.rax(-LinuxErrno.EINTR);
      }
      restart = 0;
    }
    long rsp = frame.rsp();
    boolean onAlt = altFlags != SS_DISABLE && (a.flags() & SigAction.SA_ONSTACK) != 0 && !onAltStack(rsp);
    long addr = SignalFrame.placement(rsp, onAlt, altSp + altSize);
    long saved = task.signals().takeSavedMask();
    long[] alt = {altSp, onAltStack(rsp) ? SS_ONSTACK : altFlags, altSize};
    byte[] bytes = SignalFrame.build(frame, a.restorer(), saved, info, alt);
    try {
      process.mm.memory().writeBytes(addr, bytes);
    } catch (SyscallError e) {
      // No room for the frame: Linux kills with SIGSEGV.
      TaskSignals.traceSignal(task, SigInfo.fault(Signals.SIGSEGV, SigInfo.SI_KERNEL, 0));
      process.requestExit(Signals.SIGSEGV);
      return false;
    }
    frame.rip(a.handler()).rsp(addr).rdi(sig).rsi(addr + SignalFrame.SIGINFO)
        .rdx(addr + SignalFrame.UCONTEXT).rax(0);
    // The handler runs with DF and TF clear, as Linux's do.
    frame.rflags(frame.rflags() & ~(0x400L | 0x100L));
    task.signals().mask(saved | a.mask() | ((a.flags() & SigAction.SA_NODEFER) != 0 ? 0 : Signals.bit(sig)));
    if ((a.flags() & SigAction.SA_RESETHAND) != 0) {
      process.action(sig, SigAction.DEFAULT);
    }
    VextFrame handler = new VextFrame().fsBase(vext.fsBase()).gsBase(vext.gsBase());
    interrupted.push(vext);
    if (interrupted.size() > MAX_NESTED_HANDLERS) {
      interrupted.removeLast();
    }
    vext = handler;
    return true;
  }

  /**
   * rt_sigreturn: restores the registers and mask saved in the frame at {@code rsp - 8}.
   *
   * @throws SyscallError EFAULT if the frame is unreadable (the caller kills with SIGSEGV)
   */
  public void sigreturn() {
    long addr = frame.rsp() - 8;
    byte[] bytes = process.mm.memory().readBytes(addr, SignalFrame.SIZE);
    long restoredMask = SignalFrame.restore(bytes, frame);
    task.signals().mask(restoredMask);
    VextFrame outer = interrupted.poll();
    if (outer != null) {
      // fs and gs bases are thread state, not restored by sigreturn.
      outer.fsBase(vext.fsBase()).gsBase(vext.gsBase());
      vext = outer;
    }
  }

  /** The sigaltstack: base, size and flags (SS_DISABLE when none). */
  public long[] altStack() {
    return new long[] {altSp, altSize, altFlags};
  }

  /** sigaltstack(2) with a new stack (or SS_DISABLE). */
  public void altStack(long sp, long size, int flags) {
    altSp = sp;
    altSize = size;
    altFlags = flags;
  }

  public boolean onAltStack(long sp) {
    return altFlags != SS_DISABLE && sp > altSp && sp <= altSp + altSize;
  }
}
