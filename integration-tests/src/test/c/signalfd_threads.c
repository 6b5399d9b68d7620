/* signalfd readiness is the polling thread's, as Linux's signalfd_poll has it: a signal pending
 * for the thread itself or for its process, in the descriptor's mask. Every thread blocks
 * SIGUSR1. Thread A polls (poll, ppoll, select, pselect with timeouts) while main tgkills SIGUSR1
 * to thread B: A's polls time out with 0 and A's read finds nothing, while B sees it readable and
 * reads it. A poll and then a select that A is waiting in return 1 when main tgkills A (the read
 * gives SI_TKILL), with main's own poll still 0. A kill(getpid()) wakes a poll waiting in A and
 * one in B and is readable in every thread until one reads it (SI_USER). The results are
 * collected by the threads and printed in a fixed order; the vkernel's output must equal the
 * native one. */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "guest.h"

static int sfd;
static pid_t tid_a, tid_b;
static sem_t to_a, to_b, from_a, from_b;
/* What each thread saw, printed by main in order. */
static char log_a[2048], log_b[1024];

#define LOG(buf, ...) snprintf(buf + strlen(buf), sizeof buf - strlen(buf), __VA_ARGS__)

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

static long tgkill_(pid_t tid, int sig) { return syscall(SYS_tgkill, getpid(), tid, sig); }

/* A poll of sfd alone for POLLIN: the count and revents. */
static int poll_sfd(int ms, short *revents) {
  struct pollfd p = { sfd, POLLIN, 0 };
  int r = poll(&p, 1, ms);
  *revents = p.revents;
  return r;
}

static int ppoll_sfd(long ms) {
  struct pollfd p = { sfd, POLLIN, 0 };
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  return ppoll(&p, 1, &ts, NULL);
}

/* select (or pselect) on sfd for reading: the count, and whether sfd's bit is set. */
static int select_sfd(long ms, int use_pselect, int *isset) {
  fd_set r;
  FD_ZERO(&r);
  FD_SET(sfd, &r);
  int n;
  if (use_pselect) {
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    n = pselect(sfd + 1, &r, NULL, NULL, &ts, NULL);
  } else {
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    n = select(sfd + 1, &r, NULL, NULL, &tv);
  }
  *isset = n > 0 && FD_ISSET(sfd, &r);
  return n;
}

/* One record from the (non-blocking) signalfd: "SIGUSR1 SI_TKILL", "SI_USER", or the error. */
static const char *read_sfd(char *out, size_t len) {
  struct signalfd_siginfo si;
  ssize_t n = read(sfd, &si, sizeof si);
  if (n < 0) {
    snprintf(out, len, "%s", errname(errno));
  } else {
    snprintf(out, len, "%s %s%s", si.ssi_signo == SIGUSR1 ? "SIGUSR1" : "other",
        si.ssi_code == SI_TKILL ? "SI_TKILL" : si.ssi_code == SI_USER ? "SI_USER" : "other code",
        si.ssi_code == SI_USER && si.ssi_pid == (unsigned)getpid() ? " from this process" : "");
  }
  return out;
}

static void *thread_a(void *arg) {
  (void)arg;
  tid_a = gettid_();
  short rev;
  int isset;
  char buf[64];
  sem_post(&from_a);
  /* 1: main tgkills B while this poll waits; B's signal is not this thread's. */
  sem_wait(&to_a);
  sem_post(&from_a);
  int r = poll_sfd(300, &rev);
  LOG(log_a, "A: poll while B is signalled: %d revents %#x\n", r, rev);
  LOG(log_a, "A: ppoll: %d\n", ppoll_sfd(100));
  r = select_sfd(100, 0, &isset);
  LOG(log_a, "A: select: %d set %d\n", r, isset);
  r = select_sfd(100, 1, &isset);
  LOG(log_a, "A: pselect: %d set %d\n", r, isset);
  LOG(log_a, "A: read: %s\n", read_sfd(buf, sizeof buf));
  sem_post(&from_a);
  /* 2: a waiting poll, then a waiting select, each ended by a tgkill to this thread. */
  sem_wait(&to_a);
  sem_post(&from_a);
  r = poll_sfd(20000, &rev);
  LOG(log_a, "A: waiting poll, tgkill to A: %d revents %#x\n", r, rev);
  sem_post(&from_a);
  sem_wait(&to_a); /* main has polled while A's signal is pending */
  LOG(log_a, "A: read: %s\n", read_sfd(buf, sizeof buf));
  sem_post(&from_a);
  r = select_sfd(20000, 0, &isset);
  LOG(log_a, "A: waiting select, tgkill to A: %d set %d\n", r, isset);
  LOG(log_a, "A: read: %s\n", read_sfd(buf, sizeof buf));
  r = select_sfd(0, 1, &isset);
  LOG(log_a, "A: pselect after it: %d set %d\n", r, isset);
  /* 3: a waiting poll ended by a process-directed signal (B waits in one too). */
  sem_wait(&to_a);
  sem_post(&from_a);
  r = poll_sfd(20000, &rev);
  LOG(log_a, "A: waiting poll, kill to the process: %d revents %#x\n", r, rev);
  sem_post(&from_a);
  /* 4: main has read it: nothing is left. */
  sem_wait(&to_a);
  r = poll_sfd(0, &rev);
  LOG(log_a, "A: poll after main read it: %d\n", r);
  sem_post(&from_a);
  return NULL;
}

static void *thread_b(void *arg) {
  (void)arg;
  tid_b = gettid_();
  short rev;
  int isset;
  char buf[64];
  sem_post(&from_b);
  /* 1: B's own signal is pending. */
  sem_wait(&to_b);
  int r = poll_sfd(0, &rev);
  LOG(log_b, "B: poll with its own signal: %d revents %#x\n", r, rev);
  r = select_sfd(0, 0, &isset);
  LOG(log_b, "B: select: %d set %d\n", r, isset);
  LOG(log_b, "B: read: %s\n", read_sfd(buf, sizeof buf));
  r = poll_sfd(0, &rev);
  LOG(log_b, "B: poll after the read: %d\n", r);
  sem_post(&from_b);
  /* 3: a waiting poll ended by a process-directed signal. */
  sem_wait(&to_b);
  sem_post(&from_b);
  r = poll_sfd(20000, &rev);
  LOG(log_b, "B: waiting poll, kill to the process: %d revents %#x\n", r, rev);
  sem_post(&from_b);
  return NULL;
}

int main(void) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  sigprocmask(SIG_BLOCK, &mask, NULL); /* inherited by both threads */
  sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) {
    printf("signalfd: %s\n", errname(errno));
    return 1;
  }
  sem_init(&to_a, 0, 0);
  sem_init(&to_b, 0, 0);
  sem_init(&from_a, 0, 0);
  sem_init(&from_b, 0, 0);
  pthread_t a, b;
  pthread_create(&a, NULL, thread_a, NULL);
  pthread_create(&b, NULL, thread_b, NULL);
  sem_wait(&from_a);
  sem_wait(&from_b);
  short rev;
  char buf[64];

  /* 1: a tgkill to B while A polls. */
  sem_post(&to_a);
  sem_wait(&from_a);
  usleep(100000); /* A is (most likely) waiting in its poll: the signal must not end it */
  printf("main: tgkill B: %s\n", err(tgkill_(tid_b, SIGUSR1)));
  int r = poll_sfd(0, &rev);
  printf("main: poll while B is signalled: %d\n", r);
  sem_wait(&from_a);
  sem_post(&to_b);
  sem_wait(&from_b);

  /* 2: tgkills to A while it waits. */
  sem_post(&to_a);
  sem_wait(&from_a);
  usleep(200000);
  printf("main: tgkill A: %s\n", err(tgkill_(tid_a, SIGUSR1)));
  sem_wait(&from_a);
  r = poll_sfd(0, &rev);
  printf("main: poll while A is signalled: %d\n", r);
  sem_post(&to_a);
  sem_wait(&from_a);
  usleep(200000);
  printf("main: tgkill A: %s\n", err(tgkill_(tid_a, SIGUSR1)));

  /* 3: kill to the process while A and B wait. */
  sem_post(&to_a);
  sem_post(&to_b);
  sem_wait(&from_a);
  sem_wait(&from_b);
  usleep(200000);
  printf("main: kill: %s\n", err(kill(getpid(), SIGUSR1)));
  sem_wait(&from_a);
  sem_wait(&from_b);
  r = poll_sfd(0, &rev);
  printf("main: poll: %d revents %#x\n", r, rev);
  printf("main: read: %s\n", read_sfd(buf, sizeof buf));
  printf("main: read again: %s\n", read_sfd(buf, sizeof buf));

  /* 4: nothing left for anyone. */
  sem_post(&to_a);
  sem_wait(&from_a);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  fputs(log_a, stdout);
  fputs(log_b, stdout);
  return 0;
}
