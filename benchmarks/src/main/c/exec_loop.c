/* The work benchmarks/run exec-loop measures, the same natively, under qemu-user and in the
 * vkernel:
 *   exec_loop STEPS PROGRAM   STEPS times: fork, execve(PROGRAM) in the child, waitpid in the
 *                             parent (which checks that the child exited with status 0); prints
 *                             the number of steps. STEPS = 0 is the empty run (exec of the
 *                             parent and its exit only), whose time the benchmark subtracts.
 * PROGRAM is exec_true (exec_true.c), a static program that exits at once.
 * Compiled by benchmarks/run with gcc -static. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s STEPS PROGRAM\n", argv[0]);
    return 2;
  }
  long steps = atol(argv[1]);
  char *child_argv[] = {argv[2], NULL};
  char *child_env[] = {NULL};
  for (long i = 0; i < steps; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) {
      execve(argv[2], child_argv, child_env);
      perror("execve");
      _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) {
      perror("waitpid");
      return 1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "step %ld: child ended with status %#x\n", i, status);
      return 1;
    }
  }
  printf("%ld steps\n", steps);
  return 0;
}
