package org.vmspace.vkernel.cli;

import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * {@code --accel}: where guest code runs, in the spirit of QEMU's {@code -accel kvm:tcg}. A
 * picocli mixin shared by {@code run} and {@code info}.
 */
final class Accel {
  /** The three choices. */
  enum Mode {
    /** KVM on this machine when it works, else the emulated machine, said on stderr. */
    AUTO,
    /** KVM on this machine or nothing: without it, one line on stderr and status 125. */
    KVM,
    /** The emulated machine even where KVM works here. */
    EMULATED
  }

  /** auto, kvm or emulated, in any case. */
  static final class ModeConverter implements CommandLine.ITypeConverter<Mode> {
    @Override
    public Mode convert(String value) {
      try {
        return Mode.valueOf(value.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException("'" + value + "': want auto, kvm or emulated");
      }
    }
  }

  @Option(names = "--accel", paramLabel = "auto|kvm|emulated", defaultValue = "auto", converter = ModeConverter.class,
      description = "Where guest code runs: kvm (this machine's /dev/kvm), emulated (an emulated SVM machine, "
          + "QEMU TCG, tens of times slower), or auto (default: kvm when usable, else emulated).")
  Mode mode = Mode.AUTO;

  /** Whether the emulated machine may be used when KVM is not usable here. */
  boolean mayEmulate() {
    return mode != Mode.KVM;
  }

  /** Whether the emulated machine is used even if KVM works here. */
  boolean forcesEmulation() {
    return mode == Mode.EMULATED;
  }
}
