/* The smallest real program: stdio, argv, an exit status. */
#include <stdio.h>

int main(int argc, char **argv) {
  printf("hello, world: %d argument(s)", argc - 1);
  for (int i = 1; i < argc; i++) {
    printf(" [%s]", argv[i]);
  }
  printf("\n");
  return 7;
}
