package org.vmspace.vkernel.proc;

import java.nio.file.Path;
import java.util.List;
import org.vmspace.api.VmspaceService;
import org.vmspace.vkernel.mem.AddressSpace;
import org.vmspace.vkernel.sys.PathBytes;
import org.vmspace.vkernel.syscall.Syscalls;

/**
 * The real execve path ({@link TaskExec#execve}: {@code #!} scripts, ELF headers, the
 * interpreter, the loader, the stack) of one process of a real {@link Kernel}, without running
 * anything: for host tests with a model {@link VmspaceService}. The process is made as {@link
 * Kernel#run} makes the first one, but its task is never started; each {@link #exec} replaces
 * its program as execve(2) would (a failed one leaves the previous program in place).
 *
 * <p>Its one task is never started: {@link #close} discards it (its host eventfd, and the count
 * of live tasks that the kernel's close waits for).
 */
public final class ExecHarness implements AutoCloseable {
  private final Kernel kernel;
  private final ThreadGroup process;
  private final Task task;

  /** What a successful exec produced. */
  public record Result(AddressSpace mm, long rip, long rsp, String exePath, byte[] cmdline) {}

  /** A kernel whose writable root is {@code root}, with one process whose cwd is {@code /}. */
  public ExecHarness(VmspaceService vms, Path root) {
    kernel = new Kernel(vms, KernelConfig.builder().root(root, true).cpus(1).build(), Syscalls::new);
    kernel.lock.lock();
    try {
      process = new ThreadGroup(kernel, kernel.allocatePid(), 1000, 1000);
      process.pgid = process.pid;
      process.sid = process.pid;
      task = new Task(kernel, process, process.pid);
      process.threads.add(task);
      kernel.tasks.put(task.tid, task);
      kernel.processes.put(process.pid, process);
    } finally {
      kernel.lock.unlock();
    }
  }

  /**
   * execve(2) of the guest path {@code path} (bytes as {@link PathBytes} holds them).
   *
   * @throws org.vmspace.vkernel.sys.SyscallError as execve fails
   */
  public Result exec(String path, List<byte[]> argv, List<byte[]> envp) {
    TaskExec.execve(task, path, argv, envp);
    return new Result(process.mm, task.frame.rip(), task.frame.rsp(), process.exePath, process.cmdline);
  }

  /** The process's address space now, or null before the first successful exec. */
  public AddressSpace mm() {
    return process.mm;
  }

  @Override
  public void close() {
    AddressSpace mm = process.mm;
    process.mm = null;
    if (mm != null) {
      mm.release();
    }
    kernel.lock.lock();
    try {
      kernel.processes.clear();
      kernel.tasks.clear();
      process.threads.clear();
    } finally {
      kernel.lock.unlock();
    }
    task.discard();
    kernel.close();
  }
}
