package org.vmspace.vkernel.cli;

import java.io.PrintWriter;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;
import org.vmspace.vkernel.proc.Kernel;
import org.vmspace.vkernel.signal.Signals;

/**
 * What SIGINT, SIGTERM and SIGHUP sent to the vkernel do: the first goes to the guest's
 * foreground process group, which may handle, ignore or block it, as a terminal's Ctrl-C does
 * on Linux; the second (of any of the three) while the program still runs kills every guest
 * process with SIGKILL, so that a second Ctrl-C always ends the run, whatever the guest blocks.
 * Said once on stderr. Thread-safe: the JVM calls it from its signal dispatcher thread.
 */
final class Escalation implements IntConsumer {
  private final Kernel kernel;
  private final PrintWriter err;
  private final AtomicInteger received = new AtomicInteger();

  Escalation(Kernel kernel, PrintWriter err) {
    this.kernel = kernel;
    this.err = err;
  }

  @Override
  public void accept(int sig) {
    if (received.incrementAndGet() == 1) {
      kernel.signalForeground(sig);
      return;
    }
    err.println("vkernel: " + Signals.name(sig) + " again: killing every guest process");
    err.flush();
    kernel.killAll();
  }
}
