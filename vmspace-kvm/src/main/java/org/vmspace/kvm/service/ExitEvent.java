package org.vmspace.kvm.service;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * A JFR event per exit out of guest mode: the vmspace, the kind ({@code syscall}, {@code
 * pageFault}, {@code trap}, {@code interrupt}, {@code demandFault}, {@code other}: the kinds of
 * {@link org.vmspace.api.ExitStatistics}) and KVM's exit reason; its duration is the time spent
 * in {@code KVM_RUN}. Disabled by default ({@code @Enabled(false)}): a recording must enable
 * {@code org.vmspace.Exit} by name, as {@code vkernel run --jfr} does; while it is off the run
 * loop only reads {@link #TYPE}'s enabled flag, once per exit.
 */
@Name("org.vmspace.Exit")
@Label("Guest Exit")
@Category({"vmspace", "Exits"})
@Description("One exit out of guest mode (a KVM_RUN return) of a vmspace's guest code")
@Enabled(false)
@StackTrace(false)
final class ExitEvent extends jdk.jfr.Event {
  /** An instance only for {@code isEnabled()}, which reads the event type's flag. */
  static final ExitEvent TYPE = new ExitEvent();

  @Label("Vmspace")
  @Description("The id of the vmspace whose guest code ran")
  long vmspace;

  @Label("Kind")
  @Description("syscall, pageFault, trap, interrupt (returned to the caller); demandFault, other (not returned)")
  String kind;

  @Label("KVM Exit Reason")
  @Description("KVM's exit reason without KVM_EXIT_ (IO, INTR, MMIO, ...), or EFAULT for a failed KVM_RUN")
  String reason;
}
