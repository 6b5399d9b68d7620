/* The work benchmarks/run threads measures, the same natively, under qemu-user and in the
 * vkernel:
 *   threads_bench busy N ITERATIONS   N threads, each running the same compute loop (no system
 *                                     calls) ITERATIONS times; prints a checksum
 *   threads_bench pingpong ROUNDS     two threads hand a token back and forth with raw
 *                                     FUTEX_WAIT/FUTEX_WAKE, ROUNDS round trips
 * Compiled by benchmarks/run with gcc -static -pthread. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long iterations;
static uint64_t results[1024];

static void *busy(void *arg) {
  long id = (long) arg;
  uint64_t x = 88172645463325252ULL + (uint64_t) id;
  for (long i = 0; i < iterations; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  results[id] = x;
  return NULL;
}

static atomic_int token; /* 0: the main thread's turn, 1: the other's */
static long rounds;

static void futex_wait(atomic_int *w, int v) {
  syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void futex_wake(atomic_int *w) {
  syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *pong(void *arg) {
  (void) arg;
  for (long r = 0; r < rounds; r++) {
    while (atomic_load(&token) != 1) {
      futex_wait(&token, 0);
    }
    atomic_store(&token, 0);
    futex_wake(&token);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "busy") == 0) {
    int n = atoi(argv[2]);
    iterations = atol(argv[3]);
    if (n < 1 || n > 1024) {
      return 2;
    }
    pthread_t t[1024];
    for (long i = 0; i < n; i++) {
      pthread_create(&t[i], NULL, busy, (void *) i);
    }
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) {
      pthread_join(t[i], NULL);
      sum += results[i];
    }
    printf("busy %d x %ld: %016llx\n", n, iterations, (unsigned long long) sum);
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "pingpong") == 0) {
    rounds = atol(argv[2]);
    pthread_t t;
    pthread_create(&t, NULL, pong, NULL);
    for (long r = 0; r < rounds; r++) {
      atomic_store(&token, 1);
      futex_wake(&token);
      while (atomic_load(&token) != 0) {
        futex_wait(&token, 1);
      }
    }
    pthread_join(t, NULL);
    printf("pingpong %ld\n", rounds);
    return 0;
  }
  fprintf(stderr, "usage: threads_bench busy N ITERATIONS | pingpong ROUNDS\n");
  return 2;
}
