/* The program benchmarks/run exec-loop execs 1,000 times: like /bin/true, it exits with status
 * 0 at once, but it is static (no loader, no libraries), so a step of the loop is fork, execve
 * of one small image (glibc's static start-up) and exit. Compiled by benchmarks/run with
 * gcc -static. */
int main(void) {
  return 0;
}
