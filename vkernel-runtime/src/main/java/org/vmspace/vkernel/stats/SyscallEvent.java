package org.vmspace.vkernel.stats;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * A JFR event per guest system call the virtual kernel handled: who made it, its number and
 * name, and the value left in {@code rax}; its duration is the kernel's handling time (the
 * guest's time before it is in the backend's {@code org.vmspace.Exit} events). Disabled by
 * default ({@code @Enabled(false)}): {@code vkernel run --jfr=FILE} enables {@code
 * org.vmspace.Syscall} by name; while it is off the task loop only reads {@link #TYPE}'s enabled
 * flag, once per system call.
 */
@Name("org.vmspace.Syscall")
@Label("Guest System Call")
@Category({"vmspace", "Virtual Kernel"})
@Description("One system call of a guest thread, handled by the virtual kernel")
@Enabled(false)
@StackTrace(false)
public final class SyscallEvent extends jdk.jfr.Event {
  /** An instance only for {@code isEnabled()}, which reads the event type's flag. */
  public static final SyscallEvent TYPE = new SyscallEvent();

  @Label("Pid")
  @Description("The guest process (thread group) id")
  public int pid;

  @Label("Tid")
  @Description("The guest thread id")
  public int tid;

  @Label("Vmspace")
  @Description("The id of the vmspace the thread ran in when it made the call")
  public long vmspace;

  @Label("Number")
  public long number;

  @Label("Name")
  public String name;

  @Label("Result")
  @Description("rax after the call: the result or -errno (unchanged for calls that do not return)")
  public long result;
}
