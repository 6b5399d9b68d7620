/* A fork bomb, a zombie bomb (children never waited for), a thread bomb and a memory bomb, for the vkernel's caps (CommandLineTest runs it
 * under --pids and --memory; never natively: there nothing would stop it). Each bomb grows until
 * the system call fails and prints how far it got and the errno, then lets everything go. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int gate[2];

static void *wait_for_gate(void *arg) {
  char c;
  (void) arg;
  while (read(gate[0], &c, 1) < 0 && errno == EINTR) {
  }
  return NULL;
}

int main(void) {
  if (pipe(gate) != 0) {
    perror("pipe");
    return 1;
  }
  int children = 0;
  pid_t pid;
  fflush(stdout);
  while ((pid = fork()) > 0) {
    children++;
  }
  if (pid == 0) {
    close(gate[1]);
    wait_for_gate(NULL);
    _exit(0);
  }
  printf("fork bomb: %d children, then %s\n", children, strerror(errno));
  close(gate[1]);
  for (int i = 0; i < children; i++) {
    if (wait(NULL) < 0) {
      perror("wait");
      return 1;
    }
  }
  /* Children that exit at once and are not waited for: zombies count until they are reaped. */
  int zombies = 0;
  fflush(stdout);
  while ((pid = fork()) > 0) {
    zombies++;
  }
  if (pid == 0) {
    _exit(0);
  }
  printf("zombie bomb: %d children, then %s\n", zombies, strerror(errno));
  while (wait(NULL) > 0) {
  }
  if (pipe(gate) != 0) {
    perror("pipe");
    return 1;
  }
  static pthread_t threads[4096];
  int n = 0;
  int e;
  while (n < 4096 && (e = pthread_create(&threads[n], NULL, wait_for_gate, NULL)) == 0) {
    n++;
  }
  printf("thread bomb: %d threads, then %s\n", n, strerror(e));
  close(gate[1]);
  for (int i = 0; i < n; i++) {
    pthread_join(threads[i], NULL);
  }
  long mib = 0;
  char *p;
  while ((p = malloc(1 << 20)) != NULL) {
    for (long off = 0; off < (1 << 20); off += 4096) {
      p[off] = 1;
    }
    mib++;
  }
  printf("memory bomb: %ld MiB, then %s\n", mib, strerror(errno));
  return 0;
}
