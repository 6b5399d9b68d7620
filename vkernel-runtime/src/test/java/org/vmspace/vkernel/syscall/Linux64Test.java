package org.vmspace.vkernel.syscall;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.vmspace.vkernel.syscall.Syscalls.Entry;

/** The system call table: in order, without duplicates, numbered as Linux numbers its calls. */
class Linux64Test {
  /** The C library's x86-64 numbers (Debian's linux-libc-dev). */
  private static final Path UNISTD_64 = Path.of("/usr/include/x86_64-linux-gnu/asm/unistd_64.h");

  /** The calls the table has, in number order: a change here changes what guests can call. */
  private static final List<String> EXPECTED = List.of("""
      read write open close stat fstat lstat poll lseek mmap mprotect munmap brk rt_sigaction
      rt_sigprocmask rt_sigreturn ioctl pread64 pwrite64 readv writev access pipe select sched_yield
      mremap msync madvise shmget shmat shmctl dup dup2 pause nanosleep getitimer alarm setitimer getpid socket connect
      accept sendto recvfrom sendmsg recvmsg shutdown bind listen getsockname getpeername socketpair
      setsockopt getsockopt clone fork vfork execve exit wait4 kill uname semget semop semctl shmdt msgget msgsnd msgrcv msgctl fcntl flock fsync
      fdatasync truncate ftruncate getdents getcwd chdir fchdir rename mkdir rmdir creat link unlink
      symlink readlink chmod fchmod chown fchown lchown umask gettimeofday getrlimit getrusage
      sysinfo times getuid getgid setuid setgid geteuid getegid setpgid getppid getpgrp setsid
      setreuid setregid getgroups setgroups setresuid getresuid setresgid getresgid getpgid getsid
      rt_sigpending rt_sigtimedwait rt_sigsuspend sigaltstack utime mknod statfs fstatfs getpriority
      prctl arch_prctl setrlimit sync gettid setxattr lsetxattr fsetxattr getxattr lgetxattr
      fgetxattr listxattr llistxattr flistxattr removexattr lremovexattr fremovexattr tkill time futex sched_setaffinity sched_getaffinity
      epoll_create getdents64 set_tid_address semtimedop fadvise64 clock_gettime clock_getres clock_nanosleep exit_group
      epoll_wait epoll_ctl tgkill utimes waitid openat mkdirat mknodat fchownat futimesat newfstatat
      unlinkat renameat linkat symlinkat readlinkat fchmodat faccessat pselect6 ppoll
      set_robust_list get_robust_list utimensat epoll_pwait signalfd timerfd_create eventfd timerfd_settime timerfd_gettime accept4 signalfd4 eventfd2 epoll_create1 dup3 pipe2 preadv
      pwritev recvmmsg prlimit64 sendmmsg getcpu renameat2 getrandom execveat statx rseq clone3 close_range openat2
      faccessat2
      """.trim().split("\\s+"));

  @Test
  void numbersIncreaseStrictly() {
    int last = -1;
    for (Entry e : Linux64.TABLE) {
      assertThat(e.nr()).as("the entry after %d", last).isGreaterThan(last);
      last = e.nr();
    }
  }

  @Test
  void numbersAndNamesAreUnique() {
    Set<Integer> numbers = new HashSet<>();
    Set<String> names = new HashSet<>();
    for (Entry e : Linux64.TABLE) {
      assertThat(numbers.add(e.nr())).as("number %d", e.nr()).isTrue();
      assertThat(names.add(e.name())).as("name %s", e.name()).isTrue();
    }
  }

  @Test
  void numbersAreLinuxs() throws IOException {
    assertThat(UNISTD_64)
        .as("%s (the Debian package linux-libc-dev) gives the numbers to check the table against", UNISTD_64)
        .exists();
    Map<String, Integer> linux = new HashMap<>();
    Matcher m = Pattern.compile("(?m)^#define __NR_(\\w+)\\s+(\\d+)\\s*$").matcher(Files.readString(UNISTD_64));
    while (m.find()) {
      linux.put(m.group(1), Integer.parseInt(m.group(2)));
    }
    assertThat(linux).as("the __NR_ lines of %s", UNISTD_64).containsEntry("read", 0).containsEntry("openat2", 437);
    for (Entry e : Linux64.TABLE) {
      assertThat(linux.get(e.name())).as("__NR_%s", e.name()).isEqualTo(e.nr());
    }
  }

  @Test
  void everyEntryHasAHandlerAndATraceSpec() {
    for (Entry e : Linux64.TABLE) {
      assertThat(e.handler()).as(e.name()).isNotNull();
      assertThat(e.args()).as(e.name()).matches("[duxfFsoOSwvPMy]{0,6}");
    }
  }

  @Test
  void theDispatcherHasExactlyTheListedCalls() {
    assertThat(EXPECTED).hasSize(209);
    Syscalls s = new Syscalls(null);
    assertThat(s.names()).containsExactlyElementsOf(EXPECTED);
    List<String> byNumber = new ArrayList<>();
    for (Entry e : Linux64.TABLE) {
      byNumber.add(s.name(e.nr()));
    }
    assertThat(byNumber).containsExactlyElementsOf(EXPECTED);
    assertThat(s.name(511)).isEqualTo("syscall_511");
  }
}
