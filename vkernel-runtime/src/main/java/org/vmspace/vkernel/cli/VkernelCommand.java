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

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Runs the command line and returns its exit status. */
  public static int execute(String[] args, PrintWriter out, PrintWriter err) {
    CommandLine cl = new CommandLine(new VkernelCommand());
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
    int status = execute(args, out, err);
    out.flush();
    err.flush();
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
