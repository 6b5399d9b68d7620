/* Resource limits as Linux enforces them, compared with the native run (CProgramsTest):
 * RLIMIT_NOFILE (EMFILE from every call that makes a descriptor, EBADF from dup2 and EINVAL from
 * F_DUPFD at or past the limit), RLIMIT_AS and RLIMIT_DATA (malloc, mmap and brk fail with ENOMEM,
 * promptly), RLIMIT_NPROC (fork gets EAGAIN, except for root, whom Linux lets through),
 * RLIMIT_FSIZE (short write at the limit, then SIGXFSZ and EFBIG), RLIMIT_CPU (SIGXCPU at the
 * soft limit to a handler that runs while the process spins in user mode, SIGKILL at the hard
 * one; a new process's CPU time starts at 0, an exited thread's stays counted), RLIMIT_STACK (the
 * stack a program gets at exec, and the quarter of it its arguments may take) and prlimit64 on
 * itself by pid 0 and by its pid. Each limit is tried in a child of its own; only what does not
 * depend on the memory layout or the user is printed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void check(int ok, const char *what) {
  if (!ok) {
    printf("FAILED: %s (errno %s)\n", what, strerror(errno));
    fflush(stdout);
    exit(1);
  }
}

static const char *err(long r) {
  return r < 0 ? strerror(errno) : "ok";
}

static void set(int resource, rlim_t soft, rlim_t hard) {
  struct rlimit l = {soft, hard};
  check(setrlimit(resource, &l) == 0, "setrlimit");
}

/* Runs f in a child and prints how the child ended if not by exit(0). */
static void in_child(const char *name, void (*f)(void)) {
  fflush(stdout);
  pid_t pid = fork();
  check(pid >= 0, "fork");
  if (pid == 0) {
    f();
    fflush(stdout);
    _exit(0);
  }
  int status;
  check(waitpid(pid, &status, 0) == pid, "waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    printf("%s: child ended with status 0x%x\n", name, status);
  }
}

static void nofile(void) {
  struct rlimit old;
  check(getrlimit(RLIMIT_NOFILE, &old) == 0, "getrlimit");
  set(RLIMIT_NOFILE, 42, old.rlim_max);
  int last = -1;
  int fd;
  while ((fd = open("/dev/null", O_RDONLY)) >= 0) {
    last = fd;
  }
  printf("nofile: opened up to fd %d, then %s\n", last, strerror(errno));
  int p[2];
  printf("nofile: dup %s, pipe %s, socket %s, eventfd %s, epoll_create1 %s\n", err(dup(0)), err(pipe(p)),
      err(socket(AF_UNIX, SOCK_STREAM, 0)), err(eventfd(0, 0)), err(epoll_create1(0)));
  printf("nofile: F_DUPFD 42 %s, F_DUPFD 41 %s, dup2 to 42 %s, dup2 to 41 %s\n", err(fcntl(0, F_DUPFD, 42)),
      err(fcntl(0, F_DUPFD, 41)), err(dup2(0, 42)), err(dup2(0, 41)));
  /* One free slot: a pipe needs two, fails whole, and leaves the slot free. */
  check(close(20) == 0, "close 20");
  printf("nofile: pipe with one free slot %s, then open gets fd %d\n", err(pipe(p)), open("/dev/null", O_RDONLY));
  /* A lower limit keeps what is open above it. */
  set(RLIMIT_NOFILE, 10, old.rlim_max);
  printf("nofile: under 10, fd 41 is %s, dup %s\n", fcntl(41, F_GETFD) >= 0 ? "still open" : "closed", err(dup(0)));
  struct rlimit l = {43, 42};
  printf("nofile: soft above hard %s\n", err(setrlimit(RLIMIT_NOFILE, &l)));
}

static void address_space(void) {
  set(RLIMIT_AS, 256 << 20, 256 << 20);
  int n = 0;
  void *p;
  while ((p = malloc(1 << 20)) != NULL) {
    memset(p, 1, 4096);
    n++;
  }
  int saved = errno;
  printf("as: malloc of 1 MiB returned NULL (%s) after %s\n", strerror(saved),
      n >= 200 && n < 256 ? "200 to 255 blocks" : "a wrong number of blocks");
  void *big = mmap(NULL, 300 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("as: mmap of 300 MiB %s\n", big == MAP_FAILED ? strerror(errno) : "ok");
}

static void data(void) {
  set(RLIMIT_DATA, 32 << 20, 32 << 20);
  void *p = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("data: private writable mmap of 64 MiB %s\n", p == MAP_FAILED ? strerror(errno) : "ok");
  p = mmap(NULL, 64 << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("data: read-only mmap of 64 MiB %s\n", p == MAP_FAILED ? strerror(errno) : "ok");
  p = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  printf("data: shared mmap of 64 MiB %s\n", p == MAP_FAILED ? strerror(errno) : "ok");
  /* The raw brk call: musl's sbrk refuses to move the break at all. */
  uintptr_t start = (uintptr_t) syscall(SYS_brk, 0);
  uintptr_t cur = start;
  int n = 0;
  for (;;) {
    uintptr_t want = cur + (1 << 20);
    uintptr_t got = (uintptr_t) syscall(SYS_brk, want);
    if (got != want) {
      printf("data: brk stopped %s, %s\n", got == cur ? "at the old break" : "somewhere else",
          n >= 16 && n < 32 ? "after 16 to 31 MiB" : "after a wrong amount");
      break;
    }
    cur = got;
    n++;
  }
  printf("data: brk back down %s\n", (uintptr_t) syscall(SYS_brk, start) == start ? "ok" : "failed");
}

static void nproc(void) {
  set(RLIMIT_NPROC, 1, 1);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    _exit(0);
  }
  int saved = errno;
  if (pid > 0) {
    waitpid(pid, NULL, 0);
  }
  /* Linux lets root (CAP_SYS_RESOURCE) past RLIMIT_NPROC; anyone else gets EAGAIN. */
  int as_linux = geteuid() == 0 ? pid > 0 : pid < 0 && saved == EAGAIN;
  printf("nproc: fork under RLIMIT_NPROC=1 %s\n", as_linux ? "as Linux" : "NOT as Linux");
}

static volatile sig_atomic_t signals;

static void count(int sig) {
  (void) sig;
  signals++;
}

static void fsize(void) {
  char path[] = "/tmp/limits-fsize-XXXXXX";
  int fd = mkstemp(path);
  check(fd >= 0, "mkstemp");
  unlink(path);
  signal(SIGXFSZ, count);
  set(RLIMIT_FSIZE, 10000, 10000);
  static char buf[8192];
  memset(buf, 'x', sizeof buf);
  long a = write(fd, buf, sizeof buf);
  long b = write(fd, buf, sizeof buf);
  int before = signals;
  long c = write(fd, buf, sizeof buf);
  printf("fsize: writes of 8192: %ld, %ld, then %s with %d SIGXFSZ\n", a, b, err(c), signals - before);
  printf("fsize: pwrite past the limit %s, ftruncate past it %s, ftruncate to 5000 %s, SIGXFSZ %d in all\n",
      err(pwrite(fd, buf, 1, 20000)), err(ftruncate(fd, 20000)), err(ftruncate(fd, 5000)), signals);
  printf("fsize: an empty write at the limit %s\n", err(pwrite(fd, buf, 0, 10000)));
  close(fd);
}

static void spin_until_signalled(void) {
  for (volatile unsigned long i = 0;; i++) {
  }
}

static long cpu_ms(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Says, with write(2) alone, whether it ran at the 1 s soft limit: at 0.5 to 2 s of the process's
 * CPU time (Linux's clock read 0.85 to 1 s in its handler on our machines: its limit check counts
 * ticks; the vkernel's 1.05 to 1.1 s, as it samples every 100 ms). */
static void xcpu_say(int sig) {
  (void) sig;
  static const char at[] = "cpu: the SIGXCPU handler ran at the soft limit\n";
  static const char off[] = "cpu: the SIGXCPU handler ran off the soft limit\n";
  long ms = cpu_ms(CLOCK_PROCESS_CPUTIME_ID);
  if (ms >= 500 && ms < 2000) {
    write(1, at, sizeof at - 1);
  } else {
    write(1, off, sizeof off - 1);
  }
}

static void *burn_300ms(void *arg) {
  (void) arg;
  while (cpu_ms(CLOCK_THREAD_CPUTIME_ID) < 300) {
  }
  return NULL;
}

static void cpu(void) {
  pid_t pid;
  int status;
  /* Soft limit equal to the hard one: SIGKILL (Linux checks the hard limit first). */
  fflush(stdout);
  pid = fork();
  check(pid >= 0, "fork");
  if (pid == 0) {
    signal(SIGXCPU, SIG_IGN);
    set(RLIMIT_CPU, 1, 1);
    spin_until_signalled();
  }
  check(waitpid(pid, &status, 0) == pid, "waitpid");
  printf("cpu: spinning under 1 s soft and hard: %s\n",
      WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? "killed by SIGKILL" : "something else");
  /* Soft 1 s, hard 2 s: SIGXCPU at 1 s, whose handler runs (and writes its line) while the
   * child spins in user mode, then SIGKILL at 2 s. A new process starts with no CPU time (in the
   * vkernel: not with that of the host thread it runs on, which likely ran the child above). */
  fflush(stdout);
  pid = fork();
  check(pid >= 0, "fork");
  if (pid == 0) {
    printf("cpu: a new process has used %s\n",
        cpu_ms(CLOCK_PROCESS_CPUTIME_ID) < 500 ? "under 0.5 s of CPU time" : "too much CPU time");
    /* A thread's time is its own, and stays the process's after it exited. */
    pthread_t burner;
    check(pthread_create(&burner, NULL, burn_300ms, NULL) == 0, "pthread_create");
    check(pthread_join(burner, NULL) == 0, "pthread_join");
    printf("cpu: after a thread burnt 0.3 s and exited, the process has used %s, the main thread %s\n",
        cpu_ms(CLOCK_PROCESS_CPUTIME_ID) >= 300 ? "at least that" : "less",
        cpu_ms(CLOCK_THREAD_CPUTIME_ID) < 200 ? "under 0.2 s" : "more");
    fflush(stdout);
    signal(SIGXCPU, xcpu_say);
    set(RLIMIT_CPU, 1, 2);
    spin_until_signalled();
  }
  check(waitpid(pid, &status, 0) == pid, "waitpid");
  printf("cpu: spinning under 1 s soft and 2 s hard: %s\n",
      WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? "then killed by SIGKILL" : "something else");
}

static char *self;

static int recurse(int depth) {
  volatile char frame[4096];
  frame[0] = (char) depth;
  /* 4 KiB a call: 64 Ki calls would take 256 MiB, the limit is long passed before. */
  if (depth == 65536) {
    return 0;
  }
  return recurse(depth + 1) + frame[0];
}

static void stack(void) {
  set(RLIMIT_CORE, 0, 0);
  set(RLIMIT_STACK, 256 << 10, 256 << 10);
  /* The arguments may take a quarter of the stack limit, but never less than 128 KiB; one
   * string at most 128 KiB. */
  static char big[40 << 10];
  memset(big, 'a', sizeof big - 1);
  char *fits[] = {self, "exec", big, big, NULL};
  char *args[] = {self, "exec", big, big, big, big, NULL};
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    execv(self, fits);
    _exit(127);
  }
  int status;
  check(waitpid(pid, &status, 0) == pid, "waitpid");
  printf("stack: exec with 80 KiB of arguments under 256 KiB: status %d\n", WEXITSTATUS(status));
  execv(self, args);
  printf("stack: exec with 160 KiB of arguments under 256 KiB %s\n", strerror(errno));
  fflush(stdout);
  char *again[] = {self, "recurse", NULL};
  execv(self, again);
  check(0, "execv");
}

static void prlimits(void) {
  struct rlimit l = {1234, 5678};
  struct rlimit old;
  check(prlimit(0, RLIMIT_CORE, &l, NULL) == 0, "prlimit set");
  check(prlimit(getpid(), RLIMIT_CORE, NULL, &old) == 0, "prlimit get");
  printf("prlimit: core by pid 0 then by pid: %llu %llu\n", (unsigned long long) old.rlim_cur,
      (unsigned long long) old.rlim_max);
  struct rlimit swapped = {5678, 1234};
  printf("prlimit: soft above hard %s, unknown pid %s, unknown resource %s\n",
      err(prlimit(0, RLIMIT_CORE, &swapped, NULL)), err(prlimit(-1, RLIMIT_CORE, NULL, &old)),
      err(prlimit(0, 99, NULL, &old)));
  /* Both at once: the old value comes back, the new one is set. */
  struct rlimit next = {1000, 5000};
  check(prlimit(0, RLIMIT_CORE, &next, &old) == 0, "prlimit both");
  getrlimit(RLIMIT_CORE, &l);
  printf("prlimit: old %llu %llu, now %llu %llu\n", (unsigned long long) old.rlim_cur,
      (unsigned long long) old.rlim_max, (unsigned long long) l.rlim_cur, (unsigned long long) l.rlim_max);
  /* A child inherits the limits. */
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    getrlimit(RLIMIT_CORE, &l);
    printf("prlimit: the child has %llu %llu\n", (unsigned long long) l.rlim_cur, (unsigned long long) l.rlim_max);
    fflush(stdout);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
}

int main(int argc, char **argv) {
  self = argv[0];
  if (argc > 1 && strcmp(argv[1], "recurse") == 0) {
    return recurse(0);
  }
  if (argc > 1) {
    return argc;
  }
  in_child("nofile", nofile);
  in_child("as", address_space);
  in_child("data", data);
  in_child("nproc", nproc);
  in_child("fsize", fsize);
  in_child("prlimit", prlimits);
  in_child("stack", stack);
  cpu();
  printf("done\n");
  return 0;
}
