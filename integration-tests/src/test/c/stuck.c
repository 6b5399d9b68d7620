/* Guests that will not end on their own, all at once, for the vkernel's way out (HostileGuestsTest
 * ends them with --timeout and with a second Ctrl-C; never run natively: nothing would end it):
 *   - a writer blocked on a pipe nobody reads;
 *   - two processes storming each other with signals (SIGUSR1 and a queued real-time signal,
 *     both handled) without pause;
 *   - a process that blocks every signal and spins without a system call;
 *   - a process with THREADS threads (argv[1], default 200), each blocked in read, or as many as
 *     pthread_create makes before it fails (the caps: --pids, RLIMIT_NPROC);
 *   - the first process itself blocks every signal, then takes each SIGINT with sigwaitinfo.
 * With "alone" after THREADS, only the threads (blocking every signal) and the first process: a
 * thread bomb when the caps stop pthread_create first.
 * Prints "ready: N threads" (", then ERRNO" if pthread_create failed first) once everything is
 * in place, then "SIGINT taken" for each SIGINT that reaches the first process: the witness
 * that a signal reached the guest, which neither ends nor interrupts anything. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include "guest.h"

static volatile unsigned long handled;
static void on_signal(int sig) { (void)sig; handled++; }

static void block_everything(void) {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, NULL);
}

static int never[2];
static void *blocked_reader(void *arg) {
  char c;
  (void)arg;
  while (1) read(never[0], &c, 1);
  return NULL;
}

static void storm(pid_t peer) {
  union sigval v = {0};
  for (;;) {
    kill(peer, SIGUSR1);
    sigqueue(peer, SIGRTMIN, v);
  }
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 200;
  int alone = argc > 2 && strcmp(argv[2], "alone") == 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  int report[2];
  if (pipe(report) || pipe(never)) return 2;

  if (!alone) {
    int full[2];
    if (pipe(full)) return 2;
    if (fork() == 0) {
      static char block[4096];
      for (;;) write(full[1], block, sizeof block);
    }

    /* The storm: each of a and b handles both signals before it sends any (the default action
     * of SIGUSR1 would end the storm: the handlers are inherited); a learns b's pid through a pipe. */
    int peer[2];
    if (pipe(peer)) return 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGRTMIN, &sa, NULL);
    pid_t a = fork();
    if (a == 0) {
      pid_t b;
      if (read(peer[0], &b, sizeof b) != sizeof b) _exit(2);
      storm(b);
    }
    pid_t b = fork();
    if (b == 0) storm(a);
    write(peer[1], &b, sizeof b);

    if (fork() == 0) {
      block_everything();
      for (volatile unsigned long i = 0;; i++) {
      }
    }
  }

  if (fork() == 0) {
    /* Alone, the bomb outlives the first Ctrl-C: the second one ends its threads too. */
    if (alone) block_everything();
    int made = 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    int failed = 0;
    for (; made < threads; made++) {
      pthread_t t;
      if ((failed = pthread_create(&t, &attr, blocked_reader, NULL)) != 0) break;
    }
    int result[2] = {made, failed};
    write(report[1], result, sizeof result);
    blocked_reader(NULL);
  }

  int result[2] = {-1, 0};
  read(report[0], result, sizeof result);
  block_everything();
  if (result[1] != 0) {
    printf("ready: %d threads, then %s\n", result[0], errname(result[1]));
  } else {
    printf("ready: %d threads\n", result[0]);
  }
  sigset_t interrupt;
  sigemptyset(&interrupt);
  sigaddset(&interrupt, SIGINT);
  for (;;) {
    if (sigwaitinfo(&interrupt, NULL) == SIGINT) printf("SIGINT taken\n");
  }
}
