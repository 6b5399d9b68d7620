package org.vmspace.pagetest;

import java.util.ArrayList;
import java.util.List;
import org.vmspace.kvm.paging.Outcome;

/** The comparison of what the machine did with what the model says, shared by the assertions and the matrix. */
final class Verdict {
  private Verdict() {}

  /** One difference: its kind (the same for every case that differs the same way) and its text. */
  record Difference(String kind, String text) {}

  static List<String> differences(MachineResult m, Outcome o) {
    return compare(m, o).stream().map(Difference::text).toList();
  }

  static List<Difference> compare(MachineResult m, Outcome o) {
    List<Difference> out = new ArrayList<>();
    if (m.unexpected()) {
      out.add(new Difference("the machine did not end the access: " + trapOnly(m), "the machine did not end the access: " + m.detail()));
      return out;
    }
    if (o.faults() != m.faulted()) {
      out.add(o.faults()
          ? new Difference("the model faults with " + ErrorCode.describe(o.errorCode()) + ", the machine completes",
              "the model faults with " + ErrorCode.describe(o.errorCode()) + ", the machine completed")
          : new Difference("the model completes, the machine faults with " + ErrorCode.describe(m.errorCode()),
              "the model completes (physical 0x" + Long.toHexString(o.physical()) + "), the machine faulted: " + m.detail()));
    } else if (o.faults()) {
      if (o.errorCode() != m.errorCode()) {
        String t = "error code: the model " + ErrorCode.describe(o.errorCode()) + ", the machine "
            + ErrorCode.describe(m.errorCode());
        out.add(new Difference(t, t));
      }
      if (m.cr2() != m.access().va()) {
        out.add(new Difference("CR2 is not the accessed address",
            "CR2: 0x" + Long.toHexString(m.cr2()) + ", not the accessed 0x" + Long.toHexString(m.access().va())));
      }
    }
    for (Outcome.Step step : o.walk()) {
      WalkEntry actual = null;
      for (WalkEntry e : m.walk()) {
        if (e.address() == step.entryGpa()) {
          actual = e;
        }
      }
      Level level = Level.of(step.level());
      if (actual == null) {
        out.add(new Difference(level + " is on the model's walk but not in memory's",
            level + "@0x" + Long.toHexString(step.entryGpa()) + " is on the model's walk but not in memory's: " + m.walk()));
        continue;
      }
      if (!step.matches(actual.value())) {
        long wrong = (actual.value() ^ step.after()) & ~step.either();
        String set = bitNames(wrong & actual.value());
        String clear = bitNames(wrong & ~actual.value());
        out.add(new Difference(level + " after the access: the machine" + (set.isEmpty() ? "" : " set " + set)
            + (clear.isEmpty() ? "" : (set.isEmpty() ? "" : " and") + " cleared " + clear),
            level + "@0x" + Long.toHexString(step.entryGpa()) + " after the access: the model "
            + Bits.describe(step.after()) + (step.either() != 0 ? " (either way: " + bitNames(step.either()) + ")" : "")
            + ", the machine " + Bits.describe(actual.value()) + " (differing: " + bitNames(wrong) + ")"));
      }
    }
    return out;
  }

  private static String trapOnly(MachineResult m) {
    return org.vmspace.api.Trap.name(m.trapno()) + (m.runResult() == null ? "" : " " + m.runResult());
  }

  static String bitNames(long bits) {
    String d = Bits.describe(bits & ~Bits.ADDRESS_MASK);
    String names = d.substring(d.indexOf('[') + 1, d.length() - 1);
    long addr = bits & Bits.ADDRESS_MASK;
    return addr == 0 ? names : (names.isEmpty() ? "" : names + " ") + "address bits 0x" + Long.toHexString(addr);
  }
}
