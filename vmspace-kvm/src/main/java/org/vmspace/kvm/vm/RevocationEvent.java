package org.vmspace.kvm.vm;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * A JFR event per revocation batch of a vmspace (see {@link
 * org.vmspace.api.ExitStatistics#revocations()}): the vmspace and how many page-table entries
 * were stored (from the guest side under shadow paging, from the host under nested paging);
 * its duration covers the stores, the TLB shootdown where the flavour needs one, and the
 * freeing of the frames. Disabled by default; {@code vkernel run
 * --jfr} enables {@code org.vmspace.Revocation}.
 */
@Name("org.vmspace.Revocation")
@Label("Revocation Batch")
@Category({"vmspace", "Exits"})
@Description("Present page-table entries of a vmspace changed or removed (munmap, mprotect, fork, copy-on-write...)")
@Enabled(false)
@StackTrace(false)
final class RevocationEvent extends jdk.jfr.Event {
  /** An instance only for {@code isEnabled()}, which reads the event type's flag. */
  static final RevocationEvent TYPE = new RevocationEvent();

  @Label("Vmspace")
  long vmspace;

  @Label("Stores")
  @Description("Page-table entries stored by the maintenance vCPU")
  int stores;
}
