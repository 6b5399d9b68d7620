/* futex hand-offs around a ring: THREADS threads pass one token ROUNDS times each with raw
 * FUTEX_WAIT/FUTEX_WAKE (private) on one word per thread, so nearly every hand-off is a wake of
 * one sleeping thread by another. Prints the count, which must be THREADS * ROUNDS; a lost wake-up hangs it.
 * Usage: futex_stress [THREADS [ROUNDS]] (default 64 threads, 100000 rounds). */
#define _GNU_SOURCE
/* linux/futex.h is not on musl-gcc's path */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_PRIVATE_FLAG 128
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static int threads = 64;
static long rounds = 100000;
static atomic_int *slot; /* slot[i] 1: thread i holds the token */
static atomic_long passes;

static long futex(atomic_int *word, int op, int val) {
  return syscall(SYS_futex, word, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

static void *runner(void *arg) {
  int me = (int) (long) arg;
  for (long r = 0; r < rounds; r++) {
    while (atomic_load(&slot[me]) == 0) {
      futex(&slot[me], FUTEX_WAIT, 0);
    }
    atomic_store(&slot[me], 0);
    atomic_fetch_add(&passes, 1);
    int next = (me + 1) % threads;
    atomic_store(&slot[next], 1);
    futex(&slot[next], FUTEX_WAKE, 1);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1) {
    threads = atoi(argv[1]);
  }
  if (argc > 2) {
    rounds = atol(argv[2]);
  }
  if (threads < 1 || threads > 1024 || rounds < 1) {
    fprintf(stderr, "usage: futex_stress [THREADS 1-1024 [ROUNDS]]\n");
    return 2;
  }
  pthread_t *t = calloc(threads, sizeof *t);
  slot = calloc(threads, sizeof *slot);
  slot[0] = 1;
  for (long i = 0; i < threads; i++) {
    if (pthread_create(&t[i], NULL, runner, (void *) i) != 0) {
      perror("pthread_create");
      return 1;
    }
  }
  for (int i = 0; i < threads; i++) {
    pthread_join(t[i], NULL);
  }
  printf("%d threads x %ld rounds: %ld hand-offs\n", threads, rounds, (long) passes);
  return passes == threads * rounds ? 0 : 1;
}
