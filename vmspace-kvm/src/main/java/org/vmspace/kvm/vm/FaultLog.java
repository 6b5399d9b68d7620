package org.vmspace.kvm.vm;

import java.io.PrintStream;
import org.vmspace.kvm.paging.Access;
import org.vmspace.kvm.paging.PageWalker;
import org.vmspace.kvm.paging.Pte;

/**
 * A diagnostic: with {@code -Dvmspace.faultLog=true} every demand fault served in the service
 * is printed to stderr as one line, {@code vmspace-fault vm=ID va=0x.. READ|WRITE|EXECUTE
 * absent|cow|grant [entry] OBJECT}, so that where a workload's demand faults go (which mapping,
 * read or write, a first touch or a copy-on-write) can be counted from a real run: the exit
 * statistics count them only by kind. Off, it costs one static final read per fault.
 */
final class FaultLog {
  static final boolean ENABLED = Boolean.getBoolean("vmspace.faultLog");
  private static final PrintStream OUT = System.err;

  private FaultLog() {}

  /** Prints the fault at {@code va} before it is resolved; the caller holds the vmspace's lock. */
  static void before(Vmspace vm, long va, Access access) {
    VmEntry e = vm.map.find(va);
    PageWalker.Translation t = vm.tables.lookup(va);
    String state = !t.isPresent() ? "absent"
        : access == Access.WRITE && (t.leaf() & Pte.RW) == 0 ? "cow" : "grant";
    String object = e == null ? "-" : e.object == null ? "anon" : e.object.getClass().getSimpleName();
    OUT.printf("vmspace-fault vm=%d va=0x%x %s %s %s %s%n", vm.id(), va, access, state, e, object);
  }
}
