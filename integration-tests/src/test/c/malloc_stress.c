/* Allocation churn: small blocks (brk), large blocks (mmap), growing reallocs (mremap or its
   fallback), frees; prints a checksum of the surviving data so runs can be compared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#define SLOTS 4096
int main(void) {
  static unsigned char *p[SLOTS];
  static size_t n[SLOTS];
  uint64_t seed = 12345, sum = 0;
  for (int round = 0; round < 20000; round++) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    int i = (seed >> 33) % SLOTS;
    size_t want = (seed >> 20) % 5 == 0 ? ((seed >> 8) % (1u << 20)) + 1 : ((seed >> 8) % 2048) + 1;
    if (p[i] && (seed & 3) == 0) {
      unsigned char *q = realloc(p[i], want);
      if (!q) { perror("realloc"); return 1; }
      if (want > n[i]) memset(q + n[i], (int)(i & 0xff), want - n[i]);
      p[i] = q; n[i] = want;
    } else {
      free(p[i]);
      p[i] = malloc(want);
      if (!p[i]) { perror("malloc"); return 1; }
      memset(p[i], (int)(i & 0xff), want);
      n[i] = want;
    }
  }
  for (int i = 0; i < SLOTS; i++) {
    for (size_t k = 0; k < n[i]; k += 4096) sum += p[i][k] * (k + 1);
    free(p[i]);
  }
  printf("checksum %llu\n", (unsigned long long) sum);
  return 0;
}
