package org.vmspace.vkernel.fs;

import java.util.List;
import java.util.Map;

/** What /proc shows of the kernel: its processes. Implemented by the kernel. */
public interface ProcView {
  /** One process as /proc/PID shows it. */
  interface ProcInfo {
    int pid();

    /** The executable's guest path (the target of /proc/PID/exe). */
    String exePath();

    /** The command name (at most 15 bytes), as /proc/PID/comm shows it without its newline. */
    String comm();

    /** The current directory's guest path. */
    String cwd();

    /** argv, NUL-separated and NUL-terminated, as /proc/PID/cmdline. */
    byte[] cmdline();

    /** The line of /proc/PID/stat. */
    String statLine();

    /** /proc/PID/status. */
    String status();

    /** /proc/PID/maps. */
    String maps();

    /** The open descriptors. */
    Map<Integer, FileDescription> fds();

    /** The thread ids of its live threads (/proc/PID/task), the first one's first. */
    List<Integer> tids();
  }

  /** The calling process's pid. */
  int selfPid();

  /** The calling thread's id (/proc/thread-self). */
  int selfTid();

  /** The process with this pid, or null. */
  ProcInfo process(int pid);

  /** Every live pid. */
  List<Integer> pids();

  /** /proc/meminfo. */
  String meminfo();

  /** /proc/cpuinfo. */
  String cpuinfo();

  /** How many CPUs the guests see (/sys/devices/system/cpu/online is 0 to this minus 1). */
  int cpus();
}
