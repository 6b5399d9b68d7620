package org.vmspace.kvm.ioctl;

/** KVM's ioctl numbers, capabilities and exit reasons from {@code <linux/kvm.h>} (x86-64). */
public final class Kvm {
  public static final int API_VERSION = 12;

  // /dev/kvm
  public static final long KVM_GET_API_VERSION = 0xae00L;
  public static final long KVM_CREATE_VM = 0xae01L;
  public static final long KVM_CHECK_EXTENSION = 0xae03L;
  /** {@code _IO(KVMIO, 0xce)}: a descriptor for the VM's (or vCPU's) binary statistics (Linux 5.14+). */
  public static final long KVM_GET_STATS_FD = 0xaeceL;
  public static final long KVM_GET_VCPU_MMAP_SIZE = 0xae04L;
  public static final long KVM_GET_SUPPORTED_CPUID = 0xc008ae05L;
  // VM
  public static final long KVM_CREATE_VCPU = 0xae41L;
  public static final long KVM_SET_USER_MEMORY_REGION = 0x4020ae46L;
  // vCPU
  public static final long KVM_RUN = 0xae80L;
  public static final long KVM_GET_REGS = 0x8090ae81L;
  public static final long KVM_SET_REGS = 0x4090ae82L;
  public static final long KVM_GET_SREGS = 0x8138ae83L;
  public static final long KVM_SET_SREGS = 0x4138ae84L;
  public static final long KVM_GET_MSRS = 0xc008ae88L;
  public static final long KVM_SET_MSRS = 0x4008ae89L;
  public static final long KVM_SET_SIGNAL_MASK = 0x4004ae8bL;
  public static final long KVM_SET_CPUID2 = 0x4008ae90L;
  public static final long KVM_GET_XSAVE = 0x9000aea4L;
  public static final long KVM_SET_XSAVE = 0x5000aea5L;
  public static final long KVM_GET_XSAVE2 = 0x9000aecfL;

  // capabilities
  public static final int KVM_CAP_USER_MEMORY = 3;
  public static final int KVM_CAP_NR_VCPUS = 9;
  public static final int KVM_CAP_NR_MEMSLOTS = 10;
  public static final int KVM_CAP_XSAVE = 55;
  public static final int KVM_CAP_MAX_VCPUS = 66;
  public static final int KVM_CAP_SYNC_REGS = 74;
  public static final int KVM_CAP_IMMEDIATE_EXIT = 136;
  public static final int KVM_CAP_XSAVE2 = 208;

  // exit reasons
  public static final int KVM_EXIT_UNKNOWN = 0;
  public static final int KVM_EXIT_EXCEPTION = 1;
  public static final int KVM_EXIT_IO = 2;
  public static final int KVM_EXIT_DEBUG = 4;
  public static final int KVM_EXIT_HLT = 5;
  public static final int KVM_EXIT_MMIO = 6;
  public static final int KVM_EXIT_SHUTDOWN = 8;
  public static final int KVM_EXIT_FAIL_ENTRY = 9;
  public static final int KVM_EXIT_INTR = 10;
  public static final int KVM_EXIT_INTERNAL_ERROR = 17;
  public static final int KVM_EXIT_SYSTEM_EVENT = 24;

  public static final int KVM_EXIT_IO_IN = 0;
  public static final int KVM_EXIT_IO_OUT = 1;

  // kvm_run sync regs
  public static final long KVM_SYNC_X86_REGS = 1;
  public static final long KVM_SYNC_X86_SREGS = 2;
  public static final long KVM_SYNC_X86_EVENTS = 4;

  private Kvm() {}

  /** The name of an exit reason, for messages. */
  public static String exitName(int reason) {
    return switch (reason) {
      case KVM_EXIT_UNKNOWN -> "UNKNOWN";
      case KVM_EXIT_EXCEPTION -> "EXCEPTION";
      case KVM_EXIT_IO -> "IO";
      case KVM_EXIT_DEBUG -> "DEBUG";
      case KVM_EXIT_HLT -> "HLT";
      case KVM_EXIT_MMIO -> "MMIO";
      case KVM_EXIT_SHUTDOWN -> "SHUTDOWN";
      case KVM_EXIT_FAIL_ENTRY -> "FAIL_ENTRY";
      case KVM_EXIT_INTR -> "INTR";
      case KVM_EXIT_INTERNAL_ERROR -> "INTERNAL_ERROR";
      case KVM_EXIT_SYSTEM_EVENT -> "SYSTEM_EVENT";
      default -> "exit " + reason;
    };
  }
}
