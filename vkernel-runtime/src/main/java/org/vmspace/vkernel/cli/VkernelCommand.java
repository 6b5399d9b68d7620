package org.vmspace.vkernel.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code vkernel}: the command-line entry point. Subcommands do the work; errors are one line
 * on stderr with a non-zero status, never a stack trace.
 */
@Command(
    name = "vkernel",
    mixinStandardHelpOptions = true,
    versionProvider = VkernelCommand.Version.class,
    description = "Run Linux x86-64 programs in vmspaces on KVM, from Java.",
    subcommands = {InfoCommand.class, RunCommand.class, PagetableCheckCommand.class, CommandLine.HelpCommand.class})
public final class VkernelCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;
  /** Whether the process exits when the command returns (its {@link #main}). */
  private final boolean processExits;
  /** Set by a subcommand: end the process with _exit rather than the JVM's exit (see {@link #exitAtOnce}). */
  private volatile boolean exitAtOnce;

  /** The command run in a process that goes on after it (a test's JVM): it releases everything. */
  public VkernelCommand() {
    this(false);
  }

  private VkernelCommand(boolean processExits) {
    this.processExits = processExits;
  }

  /**
   * Whether the process exits when the command returns, so that a subcommand may leave to that
   * exit what the host takes back then (see {@link org.vmspace.vkernel.proc.KernelConfig#exitsWithProcess}).
   */
  boolean processExits() {
    return processExits;
  }

  /**
   * Asks {@link #main} to end the process with _exit once the command has returned and its
   * output is flushed: for a run that leaves guest threads parked in native code, for which the
   * JVM's exit waits (0.4 s with 10^4 of them, measured). The subcommand has written and closed
   * everything else (trace, JFR recording, private directories).
   */
  void exitAtOnce() {
    exitAtOnce = true;
  }

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Runs the command line and returns its exit status; the process goes on after it. */
  public static int execute(String[] args, PrintWriter out, PrintWriter err) {
    return execute(new VkernelCommand(false), args, out, err);
  }

  private static int execute(VkernelCommand command, String[] args, PrintWriter out, PrintWriter err) {
    CommandLine cl = new CommandLine(command);
    cl.setOut(out);
    cl.setErr(err);
    // Everything after the program's name is its own: `vkernel run ls -l` passes -l to ls.
    cl.setStopAtPositional(true);
    cl.setExecutionExceptionHandler(
        (ex, commandLine, parseResult) -> {
          commandLine.getErr().println("vkernel: " + ex.getMessage());
          return 1;
        });
    return cl.execute(args);
  }

  public static void main(String[] args) {
    PrintWriter out = new PrintWriter(System.out, true);
    PrintWriter err = new PrintWriter(System.err, true);
    VkernelCommand command = new VkernelCommand(true);
    int status = execute(command, args, out, err);
    out.flush();
    err.flush();
    if (command.exitAtOnce) {
      System.out.flush();
      System.err.flush();
      org.vmspace.vkernel.host.Host.exitNow(status);
    }
    System.exit(status);
  }

  /** The version from the jar manifest. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = VkernelCommand.class.getPackage().getImplementationVersion();
      return new String[] {"vkernel " + (v == null ? "(development build)" : v)};
    }
  }
}
