/*
 * The kernel paths a C library takes beyond stdio, each printing a deterministic line:
 * signal handlers with SA_SIGINFO and SA_RESTART, masks, sigsuspend with alarm, an alternate
 * signal stack, clocks (through the vDSO where the C library uses it), nanosleep, fork with
 * a pipe and wait, execve of /proc/self/exe, mprotect, a file in /tmp, getcwd, uname.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static volatile int info_pid_ok;
static volatile int on_altstack;
static char altstack[65536];

static void on_usr1(int sig, siginfo_t *si, void *uc) {
  (void) uc;
  got = sig;
  info_pid_ok = si->si_pid == getpid();
}

static void on_alarm(int sig) { got = sig; }

static void on_usr2(int sig) {
  int here;
  (void) sig;
  on_altstack = (char *) &here >= altstack && (char *) &here < altstack + sizeof altstack;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "child") == 0) {
    printf("re-executed via /proc/self/exe with %s\n", argv[2]);
    return 5;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_usr1;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  kill(getpid(), SIGUSR1);
  printf("handler ran for signal %d, si_pid matches: %d\n", (int) got, info_pid_ok);

  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigprocmask(SIG_BLOCK, &block, &old);
  got = 0;
  kill(getpid(), SIGUSR1);
  sigset_t pending;
  sigpending(&pending);
  printf("blocked: pending %d, delivered %d\n", sigismember(&pending, SIGUSR1), (int) got);
  sigprocmask(SIG_SETMASK, &old, NULL);
  printf("unblocked: delivered %d\n", (int) got);

  signal(SIGALRM, on_alarm);
  sigset_t none;
  sigemptyset(&none);
  got = 0;
  alarm(1);
  sigsuspend(&none);
  printf("sigsuspend woke by signal %d (errno EINTR: %d)\n", (int) got, errno == EINTR);

  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  sigaltstack(&ss, NULL);
  struct sigaction sa2;
  memset(&sa2, 0, sizeof sa2);
  sa2.sa_handler = on_usr2;
  sa2.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR2, &sa2, NULL);
  raise(SIGUSR2);
  printf("handler on the alternate stack: %d\n", on_altstack);

  struct timespec a, b, d = {0, 50 * 1000 * 1000};
  clock_gettime(CLOCK_MONOTONIC, &a);
  nanosleep(&d, NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
  printf("slept at least 50 ms: %d\n", ms >= 50);
  time_t now = time(NULL);
  printf("time is after 2020: %d\n", now > 1577836800);

  int fds[2];
  if (pipe(fds) != 0) {
    perror("pipe");
    return 1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    const char msg[] = "message through a pipe";
    write(fds[1], msg, sizeof msg);
    _exit(3);
  }
  close(fds[1]);
  char buf[64] = {0};
  ssize_t n = read(fds[0], buf, sizeof buf);
  int status;
  pid_t w = waitpid(pid, &status, 0);
  printf("child said \"%s\" (%zd bytes), reaped %d, exit %d\n", buf, n, w == pid, WEXITSTATUS(status));

  pid = fork();
  if (pid == 0) {
    execl("/proc/self/exe", argv[0], "child", "an argument", (char *) NULL);
    _exit(99);
  }
  waitpid(pid, &status, 0);
  printf("exec child exited %d\n", WEXITSTATUS(status));

  int pp[2];
  pipe(pp);
  struct pollfd pfd = {.fd = pp[0], .events = POLLIN};
  int empty = poll(&pfd, 1, 0);
  int waited = poll(&pfd, 1, 100);
  write(pp[1], "x", 1);
  int ready = poll(&pfd, 1, 1000);
  fd_set rs;
  FD_ZERO(&rs);
  FD_SET(pp[0], &rs);
  struct timeval tv = {1, 0};
  int sel = select(pp[0] + 1, &rs, NULL, NULL, &tv);
  printf("poll empty %d, after 100 ms %d, with data %d (POLLIN %d), select %d (set %d)\n", empty, waited, ready,
         (pfd.revents & POLLIN) != 0, sel, FD_ISSET(pp[0], &rs) != 0);
  close(pp[1]);
  read(pp[0], buf, 1);
  pfd.revents = 0;
  poll(&pfd, 1, 1000);
  printf("writer closed: POLLHUP %d, read returns %zd\n", (pfd.revents & POLLHUP) != 0, read(pp[0], buf, 1));

  /* O_NONBLOCK set with fcntl on an empty pipe: read says EAGAIN instead of waiting. */
  int np[2];
  pipe(np);
  fcntl(np[0], F_SETFL, fcntl(np[0], F_GETFL) | O_NONBLOCK);
  ssize_t nr = read(np[0], buf, 1);
  int nerr = errno;
  fcntl(np[0], F_SETFL, fcntl(np[0], F_GETFL) & ~O_NONBLOCK);
  write(np[1], "z", 1);
  ssize_t br = read(np[0], buf, 1);
  printf("non-blocking read of an empty pipe %zd (EAGAIN %d), blocking again reads %zd '%c'\n", nr,
         nerr == EAGAIN, br, buf[0]);
  close(np[0]);
  close(np[1]);

  long page = sysconf(_SC_PAGESIZE);
  char *m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  m[0] = 'x';
  mprotect(m, page, PROT_READ);
  printf("after mprotect still reads '%c'\n", m[0]);

  char path[] = "/tmp/vk-syscalls-XXXXXX";
  int fd = mkstemp(path);
  write(fd, "0123456789", 10);
  lseek(fd, 3, SEEK_SET);
  char part[4] = {0};
  read(fd, part, 3);
  struct stat st;
  fstat(fd, &st);
  close(fd);
  unlink(path);
  printf("file: size %lld, read at 3 \"%s\", gone after unlink: %d\n", (long long) st.st_size, part,
         access(path, F_OK) != 0 && errno == ENOENT);

  /* writev larger than the kernel's 256 KiB chunk, over uneven iovecs, read back whole. */
  static char big[3][250000];
  for (int k = 0; k < 3; k++) {
    memset(big[k], 'a' + k, sizeof big[k]);
  }
  struct iovec iv[4] = {{big[0], sizeof big[0]}, {big[1], 0}, {big[1], sizeof big[1]}, {big[2], sizeof big[2]}};
  char vpath[] = "/tmp/vk-writev-XXXXXX";
  int vfd = mkstemp(vpath);
  ssize_t wrote = writev(vfd, iv, 4);
  lseek(vfd, 0, SEEK_SET);
  static char back[750000];
  ssize_t got_back = 0, r;
  while ((r = read(vfd, back + got_back, sizeof back - got_back)) > 0) {
    got_back += r;
  }
  int same = got_back == 750000 && back[0] == 'a' && back[249999] == 'a' && back[250000] == 'b' &&
             back[499999] == 'b' && back[500000] == 'c' && back[749999] == 'c';
  close(vfd);
  unlink(vpath);
  printf("writev wrote %zd, read back %zd, in order %d\n", wrote, got_back, same);

  char cwd[256];
  chdir("/etc");
  printf("cwd %s\n", getcwd(cwd, sizeof cwd));
  struct utsname u;
  uname(&u);
  printf("uname %s %s\n", u.sysname, u.machine);
  return 0;
}
