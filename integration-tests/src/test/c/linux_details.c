/* Details of Linux that real programs rely on and busybox's test suites found missing:
 * errnos of changes to a mount's root, /proc/PID/fd entries as symbolic links, /proc/PID/comm,
 * the signal lines of /proc/PID/status, times of an open unlinked file, POSIX semaphores and
 * shared memory in /dev/shm, a semaphore in shared anonymous memory, PR_SET_CHILD_SUBREAPER,
 * AF_UNIX socket pairs, madvise huge-page advice, wait4 reaping a child whose SIGCHLD interrupts
 * it. Prints one line per check;
 * the vkernel's output must equal the native one. */
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"

static void mount_roots(void) {
  printf("mkdir / %s\n", err(mkdir("/", 0755)));
  printf("mkdir /tmp %s\n", err(mkdir("/tmp", 0755)));
  printf("mkdir /tmp/ %s\n", err(mkdir("/tmp/", 0755)));
  printf("rmdir / %s\n", err(rmdir("/")));
  printf("unlink / %s\n", err(unlink("/")));
  /* Within one mount: where / and /tmp are two (the vkernel; some hosts) it would be EXDEV. */
  printf("rename / %s\n", err(rename("/", "/elsewhere")));
}

static const char *kind(mode_t m) {
  return S_ISLNK(m) ? "link" : S_ISDIR(m) ? "dir" : S_ISREG(m) ? "file" : "other";
}

static void fd_links(void) {
  int dir = open("/", O_RDONLY | O_DIRECTORY);
  char path[64];
  struct stat l, s;
  snprintf(path, sizeof path, "/proc/self/fd/%d", dir);
  if (lstat(path, &l) != 0 || stat(path, &s) != 0) {
    printf("fd entry: %s\n", strerror(errno));
    return;
  }
  /* find(1) must not descend into them: lstat says link, stat says what it refers to. */
  printf("fd entry of a directory: lstat %s (owner r-x: %d), stat %s\n", kind(l.st_mode),
         (l.st_mode & 0700) == 0500, kind(s.st_mode));
  close(dir);
}

static int bit(unsigned long long set, int sig) {
  return (int)((set >> (sig - 1)) & 1);
}

static void comm_and_status(void) {
  char buf[8192];
  int fd = open("/proc/self/comm", O_RDONLY);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  buf[n < 0 ? 0 : n] = 0;
  printf("comm: %s", fd < 0 ? "missing\n" : buf);
  if (fd >= 0) close(fd);

  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigprocmask(SIG_BLOCK, &block, NULL);
  signal(SIGUSR2, SIG_IGN);
  signal(SIGTERM, (void (*)(int))abort);
  fd = open("/proc/self/status", O_RDONLY);
  n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  buf[n < 0 ? 0 : n] = 0;
  if (fd >= 0) close(fd);
  const char *names[] = {"Threads:", "SigQ:", "SigPnd:", "ShdPnd:", "SigBlk:", "SigIgn:", "SigCgt:"};
  for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
    char *line = strstr(buf, names[i]);
    if (line == NULL) {
      printf("status: no %s line\n", names[i]);
      continue;
    }
    unsigned long long v = strtoull(line + strlen(names[i]), NULL, i < 2 ? 10 : 16);
    if (i == 0) printf("status Threads: %llu\n", v);
    if (i == 4) printf("status SigBlk has SIGUSR1: %d\n", bit(v, SIGUSR1));
    if (i == 5) printf("status SigIgn has SIGUSR2: %d\n", bit(v, SIGUSR2));
    if (i == 6) printf("status SigCgt has SIGTERM: %d, SIGUSR2: %d\n", bit(v, SIGTERM), bit(v, SIGUSR2));
  }
  signal(SIGUSR2, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  sigprocmask(SIG_UNBLOCK, &block, NULL);
}

static void times_of_an_unlinked_file(void) {
  char name[] = "/tmp/vk-utimens-XXXXXX";
  int fd = mkstemp(name);
  if (fd < 0) {
    printf("mkstemp: %s\n", strerror(errno));
    return;
  }
  unlink(name);
  struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};
  printf("futimens of an unlinked file: %s\n", err(futimens(fd, ts)));
  struct stat st;
  fstat(fd, &st);
  printf("its mtime: %lld\n", (long long)st.st_mtime);
  close(fd);
}

/* POSIX named semaphores and shared memory live in /dev/shm. */
static void dev_shm(void) {
  char name[64];
  snprintf(name, sizeof name, "/vk-sem-%d", (int)getpid());
  sem_t *sem = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
  if (sem == SEM_FAILED) {
    printf("sem_open: %s\n", err(-1));
    return;
  }
  pid_t child = fork();
  if (child == 0) {
    /* Its own sem_open, hence its own mapping of the file: the same futex word nonetheless. */
    sem_t *mine = sem_open(name, 0);
    _exit(mine == SEM_FAILED || sem_post(mine) != 0);
  }
  printf("sem_wait for the child's post: %s\n", err(sem_wait(sem)));
  waitpid(child, NULL, 0);
  sem_close(sem);
  printf("sem_unlink: %s\n", err(sem_unlink(name)));
  printf("sem_unlink again: %s\n", err(sem_unlink(name)));

  snprintf(name, sizeof name, "/vk-shm-%d", (int)getpid());
  int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0 || ftruncate(fd, 4096) != 0) {
    printf("shm_open: %s\n", err(-1));
    return;
  }
  char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  child = fork();
  if (child == 0) {
    strcpy(p, "written by the child");
    _exit(0);
  }
  waitpid(child, NULL, 0);
  printf("shared memory: %s\n", p);
  munmap(p, 4096);
  printf("shm_unlink: %s\n", err(shm_unlink(name)));
}

/* A process-shared semaphore in shared anonymous memory, posted by a forked child once the
 * parent sleeps in sem_wait (so the post must wake it through the futex). */
static void shared_anonymous_semaphore(void) {
  sem_t *sem = mmap(NULL, 4096 * 2, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sem == MAP_FAILED) {
    printf("mmap shared anonymous: %s\n", err(-1));
    return;
  }
  /* In the second page, after splitting the mapping with mprotect: the word keeps its place. */
  mprotect(sem, 4096, PROT_READ);
  sem_t *word = (sem_t *)((char *)sem + 4096);
  sem_init(word, 1, 0);
  pid_t child = fork();
  if (child == 0) {
    wait_until_sleeping(getppid());
    _exit(sem_post(word) != 0);
  }
  printf("sem_wait in shared anonymous memory: %s\n", err(sem_wait(word)));
  int st;
  waitpid(child, &st, 0);
  printf("the poster exited with %d\n", WEXITSTATUS(st));
  munmap(sem, 4096 * 2);
}

static void subreaper(void) {
  int flag = -1;
  printf("subreaper set: %s\n", err(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)));
  prctl(PR_GET_CHILD_SUBREAPER, &flag, 0, 0, 0);
  printf("subreaper get: %d\n", flag);
  int ready[2];
  if (pipe(ready) != 0) return;
  pid_t me = getpid();
  pid_t child = fork();
  if (child == 0) {
    pid_t middle = getpid();
    pid_t grandchild = fork();
    if (grandchild == 0) {
      close(ready[0]);
      /* Wait until the middle process is gone (it may be already), then say who adopted us. */
      while (getppid() == middle) usleep(1000);
      char c = getppid() == me ? 'y' : 'n';
      if (write(ready[1], &c, 1) != 1) _exit(1);
      _exit(5);
    }
    _exit(3);
  }
  close(ready[1]);
  int st;
  waitpid(child, &st, 0);
  printf("middle exited with %d\n", WEXITSTATUS(st));
  char c = '?';
  if (read(ready[0], &c, 1) != 1) c = '-';
  printf("grandchild adopted by us: %c\n", c);
  pid_t reaped = wait(&st);
  printf("reaped the grandchild: %d, status %d\n", reaped > 0 && reaped != child, WEXITSTATUS(st));
  printf("no more children: %s\n", wait(&st) < 0 && errno == ECHILD ? "ECHILD" : "more");
}

/* AF_UNIX socket pairs (the JVM makes one for its NIO descriptors): data both ways, end of
 * file after close, poll, the /proc/self/fd name, and the errnos of what is refused. */
static void socket_pair(void) {
  int sv[2];
  int r = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
  printf("socketpair: %d\n", r);
  if (r != 0) return;
  char buf[16] = {0};
  ssize_t w = write(sv[0], "ping", 4);
  ssize_t got = read(sv[1], buf, sizeof buf);
  printf("write a->b: %zd, read: %zd [%s]\n", w, got, buf);
  w = write(sv[1], "pong!", 5);
  got = read(sv[0], buf, sizeof buf);
  printf("write b->a: %zd, read: %zd\n", w, got);
  struct pollfd p = {sv[0], POLLIN, 0};
  printf("poll with nothing to read: %d\n", poll(&p, 1, 0));
  char link[64], path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", sv[0]);
  ssize_t n = readlink(path, link, sizeof link - 1);
  link[n > 0 ? n : 0] = 0;
  printf("fd link is a socket: %s\n", strncmp(link, "socket:[", 8) == 0 ? "yes" : link);
  close(sv[1]);
  printf("read after the peer closed: %zd\n", read(sv[0], buf, sizeof buf));
  close(sv[0]);
  printf("socketpair(AF_UNIX, 99): %s\n", err(socketpair(AF_UNIX, 99, 0, sv)));
  printf("socketpair(AF_UNIX, SOCK_STREAM, 7): %s\n", err(socketpair(AF_UNIX, SOCK_STREAM, 7, sv)));
  printf("socketpair(12345, SOCK_STREAM): %s\n", err(socketpair(12345, SOCK_STREAM, 0, sv)));
}

/* madvise's huge-page advice: accepted on mapped memory, the memory unchanged and still usable
 * (the vkernel sizes its fault-around blocks by it); over a hole ENOMEM after advising the
 * mapped part; misaligned EINVAL. */
static void huge_page_advice(void) {
  size_t len = 4 << 20;
  unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    perror("mmap");
    return;
  }
  m[0] = 1;
  printf("huge advice: %s\n", madvise(m, len, MADV_HUGEPAGE) == 0 ? "ok" : strerror(errno));
  unsigned long sum = 0;
  for (size_t i = 0; i < len; i += 4096) {
    m[i] += (unsigned char)(i >> 12);
    sum += m[i];
  }
  printf("huge advice: sum %lu\n", sum);
  printf("nohuge advice: %s\n", madvise(m, len, MADV_NOHUGEPAGE) == 0 ? "ok" : strerror(errno));
  printf("nohuge advice: m[0] still %d\n", m[0]);
  munmap(m + len / 2, 4096);
  printf("advice over a hole: %s\n", madvise(m, len, MADV_HUGEPAGE) == 0 ? "ok" : strerror(errno));
  printf("misaligned advice: %s\n", madvise(m + 1, 4096, MADV_HUGEPAGE) == 0 ? "ok" : strerror(errno));
  munmap(m, len);
}

/* A blocked wait4 whose child exits: the child's SIGCHLD wakes it, and Linux's do_wait looks for
 * a zombie again before it answers EINTR, so wait4 returns the child and the handler runs after
 * (busybox sh waits like this for every command; the vkernel answered EINTR first). */
static volatile sig_atomic_t chld_seen;
static void on_chld(int sig) { (void)sig; chld_seen++; }
static void wait_reaps_before_eintr(void) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_chld; /* no SA_RESTART: an interrupted wait4 would be EINTR */
  sigaction(SIGCHLD, &sa, &old);
  chld_seen = 0;
  pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) {
    /* Exit once the parent sleeps (in its wait4), not after a guess at how long that takes:
     * the SIGCHLD must wake a blocked wait4 for the check to mean anything. */
    char path[64], stat[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)parent);
    for (int i = 0; i < 20000; i++) {
      int fd = open(path, O_RDONLY);
      ssize_t n = fd < 0 ? -1 : read(fd, stat, sizeof stat - 1);
      if (fd >= 0) close(fd);
      if (n > 0) {
        stat[n] = 0;
        char *end = strrchr(stat, ')');
        if (end && end[1] == ' ' && end[2] == 'S') break;
      }
      usleep(1000);
    }
    _exit(7);
  }
  int st = 0;
  pid_t r = wait4(child, &st, 0, NULL);
  printf("wait4 woken by its child's SIGCHLD: %s, status %d, handler ran %d\n",
         r == child ? "the child" : r < 0 ? strerror(errno) : "another pid", r == child ? WEXITSTATUS(st) : -1,
         (int)chld_seen);
  if (r != child) waitpid(child, &st, 0);
  sigaction(SIGCHLD, &old, NULL);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  mount_roots();
  fd_links();
  comm_and_status();
  times_of_an_unlinked_file();
  dev_shm();
  shared_anonymous_semaphore();
  subreaper();
  socket_pair();
  huge_page_advice();
  wait_reaps_before_eintr();
  return 0;
}
