/* Dies of SIGSEGV: a store through a null pointer after printing a line. */
#include <stdio.h>

int main(void) {
  printf("about to fault\n");
  fflush(stdout);
  volatile int *p = (int *) 0;
  *p = 42;
  return 0;
}
