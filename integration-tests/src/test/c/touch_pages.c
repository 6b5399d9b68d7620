/* Touches 256 MiB of anonymous memory page by page, then reads every page back. */
#include <stdio.h>
#include <sys/mman.h>

int main(void) {
  size_t size = (size_t) 256 << 20;
  unsigned char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  for (size_t i = 0; i < size; i += 4096) {
    m[i] = (unsigned char) (i >> 12);
  }
  unsigned long long sum = 0;
  for (size_t i = 0; i < size; i += 4096) {
    sum += m[i];
  }
  printf("pages %zu sum %llu\n", size / 4096, sum);
  return munmap(m, size) != 0;
}
