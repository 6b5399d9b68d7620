/* Event descriptors and readiness: eventfd (counter and semaphore modes, limits, blocking
 * reads woken by a thread or a child, a signal interrupting or restarting a read), timerfd
 * (relative, absolute, interval, gettime) and epoll's level-triggered, edge-triggered and
 * one-shot reporting on them and on a pipe, and epoll_pwait's signal mask. Prints only what
 * does not depend on timing; compared with its native run (CProgramsTest). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest.h"

static void check(int ok, const char *what) {
  if (!ok) {
    printf("FAILED: %s (errno %s)\n", what, strerror(errno));
    exit(1);
  }
}

static void nap(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static void eventfd_counter(void) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  check(fd >= 0, "eventfd");
  uint64_t v = 5;
  check(write(fd, &v, 8) == 8, "write 5");
  v = 7;
  check(write(fd, &v, 8) == 8, "write 7");
  v = 0;
  long r = read(fd, &v, 8);
  printf("eventfd: read %ld bytes, value %llu\n", r, (unsigned long long) v);
  r = read(fd, &v, 8);
  printf("eventfd: empty read: %s\n", err(r));
  char small[4];
  r = read(fd, small, 4);
  printf("eventfd: 4-byte read: %s\n", err(r));
  r = write(fd, small, 4);
  printf("eventfd: 4-byte write: %s\n", err(r));
  v = UINT64_MAX;
  r = write(fd, &v, 8);
  printf("eventfd: write of 2^64-1: %s\n", err(r));
  v = UINT64_MAX - 1;
  r = write(fd, &v, 8);
  printf("eventfd: write of 2^64-2: %s\n", err(r));
  struct pollfd p = {fd, POLLIN | POLLOUT, 0};
  poll(&p, 1, 0);
  printf("eventfd: full: POLLIN %d POLLOUT %d\n", !!(p.revents & POLLIN), !!(p.revents & POLLOUT));
  v = 1;
  r = write(fd, &v, 8);
  printf("eventfd: overflowing write: %s\n", err(r));
  check(read(fd, &v, 8) == 8, "read back");
  printf("eventfd: value %llx\n", (unsigned long long) v);
  p.revents = 0;
  poll(&p, 1, 0);
  printf("eventfd: empty: POLLIN %d POLLOUT %d\n", !!(p.revents & POLLIN), !!(p.revents & POLLOUT));
  printf("eventfd: cloexec %d, nonblock %d\n", !!(fcntl(fd, F_GETFD) & FD_CLOEXEC), !!(fcntl(fd, F_GETFL) & O_NONBLOCK));
  close(fd);
  printf("eventfd2 with flag 0x10: %s\n", err(eventfd(0, 0x10)));

  fd = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
  check(fd >= 0, "eventfd semaphore");
  for (int i = 0; i < 4; i++) {
    v = 99;
    r = read(fd, &v, 8);
    printf("semaphore read %d: %s, value %llu\n", i, err(r), r < 0 ? 0ULL : (unsigned long long) v);
  }
  close(fd);
}

static void *write_later(void *arg) {
  int fd = *(int *) arg;
  nap(20);
  uint64_t v = 42;
  check(write(fd, &v, 8) == 8, "thread write");
  return NULL;
}

static void eventfd_blocking(void) {
  int fd = eventfd(0, 0);
  check(fd >= 0, "eventfd blocking");
  pthread_t t;
  pthread_create(&t, NULL, write_later, &fd);
  uint64_t v = 0;
  long r = read(fd, &v, 8);
  printf("blocking read woken by a thread: %ld bytes, value %llu\n", r, (unsigned long long) v);
  pthread_join(t, NULL);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1122334455667788ULL};
  check(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl eventfd");
  pid_t child = fork();
  if (child == 0) {
    nap(20);
    uint64_t w = 9;
    _exit(write(fd, &w, 8) == 8 ? 0 : 1);
  }
  struct epoll_event out;
  int n = epoll_wait(ep, &out, 1, -1);
  printf("epoll_wait woken by a child: %d event(s), data %llx, EPOLLIN %d\n", n, (unsigned long long) out.data.u64,
         !!(out.events & EPOLLIN));
  int status;
  waitpid(child, &status, 0);
  check(read(fd, &v, 8) == 8, "read after epoll");
  printf("child exit %d, value %llu\n", WEXITSTATUS(status), (unsigned long long) v);
  close(ep);
  close(fd);
}

static volatile sig_atomic_t handled;
static volatile int reader_done;

static void on_signal(int sig) {
  (void) sig;
  handled++;
}

struct poke {
  pthread_t target;
  int fd;
};

static void *poke_until_done(void *arg) {
  struct poke *p = arg;
  while (!reader_done) {
    nap(10);
    if (!reader_done) {
      pthread_kill(p->target, SIGUSR2);
    }
  }
  return NULL;
}

static void *poke_then_write(void *arg) {
  struct poke *p = arg;
  nap(20);
  pthread_kill(p->target, SIGUSR2);
  nap(20);
  uint64_t v = 5;
  check(write(p->fd, &v, 8) == 8, "write after signal");
  return NULL;
}

static void eventfd_signals(void) {
  int fd = eventfd(0, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGUSR2, &sa, NULL);
  struct poke p = {pthread_self(), fd};
  pthread_t t;
  reader_done = 0;
  pthread_create(&t, NULL, poke_until_done, &p);
  uint64_t v;
  long r = read(fd, &v, 8);
  int e = errno;
  reader_done = 1;
  pthread_join(t, NULL);
  errno = e;
  printf("read interrupted without SA_RESTART: %s\n", err(r));

  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR2, &sa, NULL);
  handled = 0;
  pthread_create(&t, NULL, poke_then_write, &p);
  v = 0;
  r = read(fd, &v, 8);
  pthread_join(t, NULL);
  printf("read with SA_RESTART: %s, value %llu, handler ran %d\n", err(r), (unsigned long long) v, handled);
  signal(SIGUSR2, SIG_DFL);
  close(fd);
}

static void timerfds(void) {
  uint64_t v;
  struct itimerspec its, cur;
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  check(fd >= 0, "timerfd_create");
  memset(&its, 0, sizeof its);
  its.it_value.tv_nsec = 10 * 1000000;
  check(timerfd_settime(fd, 0, &its, NULL) == 0, "settime relative");
  long r = read(fd, &v, 8);
  printf("timerfd relative one-shot: %ld bytes, %llu expiration(s)\n", r, (unsigned long long) v);
  check(timerfd_gettime(fd, &cur) == 0, "gettime");
  printf("timerfd after expiry: value %lld.%09ld interval %lld.%09ld\n", (long long) cur.it_value.tv_sec,
         cur.it_value.tv_nsec, (long long) cur.it_interval.tv_sec, cur.it_interval.tv_nsec);

  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  its.it_value = now;
  its.it_value.tv_nsec += 10 * 1000000;
  if (its.it_value.tv_nsec >= 1000000000) {
    its.it_value.tv_sec++;
    its.it_value.tv_nsec -= 1000000000;
  }
  check(timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) == 0, "settime absolute");
  r = read(fd, &v, 8);
  printf("timerfd absolute monotonic: %llu expiration(s)\n", (unsigned long long) v);
  close(fd);

  fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
  clock_gettime(CLOCK_REALTIME, &now);
  its.it_value = now;
  its.it_value.tv_sec += 1000;
  check(timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) == 0, "settime cancel-on-set");
  r = read(fd, &v, 8);
  printf("timerfd realtime far away, non-blocking read: %s\n", err(r));
  check(timerfd_gettime(fd, &cur) == 0, "gettime realtime");
  printf("timerfd realtime remaining > 990 s: %d\n", cur.it_value.tv_sec >= 990);
  its.it_value = now;
  check(timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) == 0, "settime past");
  struct pollfd pfd = {fd, POLLIN, 0};
  poll(&pfd, 1, -1);
  r = read(fd, &v, 8);
  printf("timerfd realtime in the past: %s, %llu expiration(s)\n", err(r), (unsigned long long) v);
  close(fd);

  fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK);
  check(fd >= 0, "timerfd boottime");
  its.it_value.tv_sec = 0;
  its.it_value.tv_nsec = 5 * 1000000;
  its.it_interval.tv_sec = 0;
  its.it_interval.tv_nsec = 5 * 1000000;
  check(timerfd_settime(fd, 0, &its, NULL) == 0, "settime interval");
  nap(40);
  r = read(fd, &v, 8);
  printf("timerfd interval after a sleep: %s, at least 2 expirations: %d\n", err(r), v >= 2);
  check(timerfd_gettime(fd, &cur) == 0, "gettime interval");
  printf("timerfd interval: %lld.%09ld, next within it: %d\n", (long long) cur.it_interval.tv_sec,
         cur.it_interval.tv_nsec, cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec <= 5 * 1000000);
  memset(&its, 0, sizeof its);
  check(timerfd_settime(fd, 0, &its, &cur) == 0, "disarm");
  printf("old interval %ld ns\n", cur.it_interval.tv_nsec);
  check(timerfd_gettime(fd, &cur) == 0, "gettime disarmed");
  printf("disarmed: %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
  its.it_value.tv_nsec = 1000000000;
  printf("settime with 1e9 ns: %s\n", err(timerfd_settime(fd, 0, &its, NULL)));
  its.it_value.tv_nsec = 1;
  printf("settime with flag 4: %s\n", err(timerfd_settime(fd, 4, &its, NULL)));
  printf("settime cancel-on-set on a relative timer: %s\n", err(timerfd_settime(fd, TFD_TIMER_CANCEL_ON_SET, &its, NULL)));
  close(fd);
  printf("timerfd_create clock 12345: %s\n", err(timerfd_create(12345, 0)));
  printf("timerfd_create flag 1: %s\n", err(timerfd_create(CLOCK_MONOTONIC, 1)));
  int efd = eventfd(0, 0);
  printf("timerfd_gettime on an eventfd: %s\n", err(timerfd_gettime(efd, &cur)));
  printf("timerfd_gettime on fd 999: %s\n", err(timerfd_gettime(999, &cur)));
  close(efd);
}

static int waitn(int ep) {
  struct epoll_event out[4];
  return epoll_wait(ep, out, 4, 0);
}

static void epoll_modes(const char *what, int rfd, int wfd) {
  static const char byte[8] = {1, 0, 0, 0, 0, 0, 0, 0};
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = rfd};
  check(epoll_ctl(ep, EPOLL_CTL_ADD, rfd, &ev) == 0, "add level");
  check(write(wfd, byte, 8) == 8, "write");
  int a = waitn(ep), b = waitn(ep);
  printf("%s level-triggered: %d then %d\n", what, a, b);
  ev.events = EPOLLIN | EPOLLET;
  check(epoll_ctl(ep, EPOLL_CTL_MOD, rfd, &ev) == 0, "mod edge");
  a = waitn(ep);
  b = waitn(ep);
  check(write(wfd, byte, 8) == 8, "write again");
  int c = waitn(ep);
  printf("%s edge-triggered: %d then %d, after a new write %d\n", what, a, b, c);
  ev.events = EPOLLIN | EPOLLONESHOT;
  check(epoll_ctl(ep, EPOLL_CTL_MOD, rfd, &ev) == 0, "mod oneshot");
  a = waitn(ep);
  b = waitn(ep);
  check(epoll_ctl(ep, EPOLL_CTL_MOD, rfd, &ev) == 0, "rearm");
  c = waitn(ep);
  printf("%s one-shot: %d then %d, after re-arming %d\n", what, a, b, c);
  printf("%s add twice: %s\n", what, err(epoll_ctl(ep, EPOLL_CTL_ADD, rfd, &ev)));
  check(epoll_ctl(ep, EPOLL_CTL_DEL, rfd, NULL) == 0, "del");
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  printf("%s EPOLLEXCLUSIVE: %s\n", what, err(epoll_ctl(ep, EPOLL_CTL_ADD, rfd, &ev)));
  close(ep);
}

static void epolls(void) {
  int p[2];
  check(pipe(p) == 0, "pipe");
  epoll_modes("pipe", p[0], p[1]);
  close(p[0]);
  close(p[1]);
  int fd = eventfd(0, EFD_NONBLOCK);
  epoll_modes("eventfd", fd, fd);
  close(fd);

  fd = timerfd_create(CLOCK_MONOTONIC, 0);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = 77};
  check(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "add timerfd");
  struct itimerspec its = {{0, 0}, {0, 10 * 1000000}};
  timerfd_settime(fd, 0, &its, NULL);
  struct epoll_event out;
  int n = epoll_wait(ep, &out, 1, -1);
  printf("timerfd in epoll: %d event(s), data %u, then %d\n", n, out.data.u32, waitn(ep));
  close(ep);
  close(fd);

  /* epoll_pwait's mask: SIGUSR1 is blocked and pending; the wait unblocks it, the handler
   * runs, the wait fails with EINTR and the old mask is back. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGUSR1, &sa, NULL);
  sigset_t block, old, during;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigprocmask(SIG_BLOCK, &block, &old);
  handled = 0;
  raise(SIGUSR1);
  ep = epoll_create1(0);
  fd = eventfd(0, 0);
  ev.events = EPOLLIN;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  sigemptyset(&during);
  n = epoll_pwait(ep, &out, 1, -1, &during);
  printf("epoll_pwait with SIGUSR1 pending: %s, handler ran %d\n", err(n), handled);
  sigset_t now;
  sigprocmask(SIG_SETMASK, NULL, &now);
  printf("SIGUSR1 blocked again: %d\n", sigismember(&now, SIGUSR1));
  sigprocmask(SIG_SETMASK, &old, NULL);
  printf("epoll_wait maxevents 0: %s\n", err(epoll_wait(ep, &out, 0, 0)));
  printf("epoll_ctl on itself: %s\n", err(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev)));
  close(ep);
  close(fd);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  eventfd_counter();
  eventfd_blocking();
  eventfd_signals();
  timerfds();
  epolls();
  printf("done\n");
  return 0;
}
