/* File-backed memory with Linux's semantics, printed as deterministic lines so that the run
 * under the vkernel can be compared with the native one: MAP_SHARED between two processes (each
 * sees the other's stores, the file holds them after msync), MAP_PRIVATE copy-on-write,
 * MADV_DONTNEED giving a private page back to the file, mprotect and munmap of parts of a file
 * mapping, MAP_FIXED over a reservation, bytes past the end of the file (zero in the last page,
 * SIGBUS beyond it), a shared mapping whose file is truncated under it, the auxiliary vector and
 * dl_iterate_phdr (static and dynamic builds print the same lines), /proc/self/maps naming the
 * file. Exits 0 when every check passed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static long page;
static int failures;
static sigjmp_buf jump;
static volatile int caught_sig, caught_code;

static void check(int ok, const char *what) {
  printf("%s %s\n", ok ? "ok" : "FAIL", what);
  if (!ok) failures++;
}

static void on_fault(int sig, siginfo_t *si, void *uc) {
  (void) uc;
  caught_sig = sig;
  caught_code = si->si_code;
  siglongjmp(jump, 1);
}

/* The signal and si_code an access raises, or 0 if it succeeds. */
static int touch(volatile char *p, int write) {
  caught_sig = 0;
  caught_code = 0;
  if (sigsetjmp(jump, 1) == 0) {
    if (write) *p = 'w';
    else (void) *p;
    return 0;
  }
  return caught_sig;
}

static char last_path[256];

/* A file of `size` bytes whose page i is filled with fill + i, unlinked unless `keep`. */
static int temp_file(const char *dir, size_t size, char fill, int keep) {
  char *path = last_path;
  snprintf(path, sizeof last_path, "%s/file_maps.XXXXXX", dir);
  int fd = mkstemp(path);
  if (fd < 0) { perror("mkstemp"); exit(2); }
  if (!keep) unlink(path);
  char *buf = malloc(size);
  for (size_t i = 0; i < size; i++) buf[i] = (char) (fill + i / page);
  if (write(fd, buf, size) != (ssize_t) size) { perror("write"); exit(2); }
  free(buf);
  return fd;
}

static void shared_between_processes(const char *dir) {
  int fd = temp_file(dir, 2 * page, 'a', 0);
  char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  check(m != MAP_FAILED, "MAP_SHARED of a file");
  int to_child[2], to_parent[2];
  if (pipe(to_child) || pipe(to_parent)) exit(2);
  pid_t pid = fork();
  if (pid == 0) {
    /* A mapping of its own, not the inherited one. */
    char *c = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (c == MAP_FAILED) _exit(3);
    strcpy(c + page, "from the child");
    msync(c, 2 * page, MS_SYNC);
    char x;
    if (write(to_parent[1], "1", 1) != 1 || read(to_child[0], &x, 1) != 1) _exit(4);
    _exit(strcmp(c, "from the parent") == 0 ? 0 : 5);
  }
  char x;
  check(read(to_parent[0], &x, 1) == 1, "the child wrote");
  check(strcmp(m + page, "from the child") == 0, "the parent sees the child's store");
  strcpy(m, "from the parent");
  check(write(to_child[1], "1", 1) == 1, "the parent wrote");
  int status;
  waitpid(pid, &status, 0);
  check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child sees the parent's store");
  check(msync(m, 2 * page, MS_SYNC) == 0, "msync");
  char buf[32] = {0};
  check(pread(fd, buf, 15, 0) == 15 && strcmp(buf, "from the parent") == 0, "the file holds the parent's store");
  memset(buf, 0, sizeof buf);
  check(pread(fd, buf, 14, page) == 14 && strcmp(buf, "from the child") == 0, "the file holds the child's store");
  check(pwrite(fd, "by write", 8, 100) == 8 && memcmp(m + 100, "by write", 8) == 0,
        "a write(2) to the file shows in the mapping");
  /* Truncated under the mapping: the page past the new end is gone (SIGBUS), as in Linux. */
  check(ftruncate(fd, page) == 0, "ftruncate to one page");
  check(touch(m, 0) == 0, "the page before the new end stays");
  check(touch(m + page, 0) == SIGBUS, "the page past the new end raises SIGBUS");
  munmap(m, 2 * page);
  close(fd);
}

static void private_copy_on_write(const char *dir) {
  int fd = temp_file(dir, 3 * page, 'a', 0);
  char *p = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  char *q = mmap(NULL, 3 * page, PROT_READ, MAP_PRIVATE, fd, 0);
  check(p != MAP_FAILED && q != MAP_FAILED, "two MAP_PRIVATE mappings");
  check(p[0] == 'a' && p[page] == 'b' && p[2 * page] == 'c', "private pages read the file");
  p[0] = 'X';
  char c = 0;
  check(pread(fd, &c, 1, 0) == 1 && c == 'a', "a private store does not reach the file");
  check(q[0] == 'a', "nor the other private mapping");
  check(madvise(p, page, MADV_DONTNEED) == 0 && p[0] == 'a', "MADV_DONTNEED gives the file's page back");

  /* mprotect of the middle page: the neighbours stay writable. */
  check(mprotect(p + page, page, PROT_READ) == 0, "mprotect of part of a file mapping");
  check(touch(p + page, 1) == SIGSEGV && caught_code == SEGV_ACCERR, "a store to the read-only part is SEGV_ACCERR");
  check(touch(p, 1) == 0 && touch(p + 2 * page, 1) == 0, "the other parts stay writable");
  /* munmap of the middle page: a hole. */
  check(munmap(p + page, page) == 0, "munmap of part of a file mapping");
  check(touch(p + page, 0) == SIGSEGV && caught_code == SEGV_MAPERR, "the hole is SEGV_MAPERR");
  check(p[2 * page] == 'w' && q[2 * page] == 'c', "the pages around the hole keep their contents");
  munmap(p, 3 * page);
  munmap(q, 3 * page);

  /* MAP_FIXED over a PROT_NONE reservation, at a file offset. */
  char *r = mmap(NULL, 4 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *f = mmap(r + page, 2 * page, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, page);
  check(f == r + page && f[0] == 'b' && f[page] == 'c', "MAP_FIXED over a reservation at offset one page");
  check(touch(r, 0) == SIGSEGV && caught_code == SEGV_ACCERR, "the rest of the reservation stays PROT_NONE");
  munmap(r, 4 * page);
  close(fd);
}

static void past_the_end(const char *dir) {
  int fd = temp_file(dir, 100, 'a', 0);
  char *p = mmap(NULL, 2 * page, PROT_READ, MAP_PRIVATE, fd, 0);
  check(p != MAP_FAILED, "a mapping longer than its file");
  check(p[99] == 'a' && p[100] == 0 && p[page - 1] == 0, "the last page reads zero past the end");
  check(touch(p + page, 0) == SIGBUS && caught_code == BUS_ADRERR, "the page past the end raises SIGBUS (BUS_ADRERR)");
  munmap(p, 2 * page);
  check(mmap(NULL, page, PROT_READ, MAP_PRIVATE, fd, 1) == MAP_FAILED && errno == EINVAL, "an unaligned offset is EINVAL");
  close(fd);
}

static int count_phdrs(struct dl_phdr_info *info, size_t size, void *data) {
  (void) size;
  int *loads = data;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    if (info->dlpi_phdr[i].p_type == PT_LOAD) (*loads)++;
  }
  return 0;
}

static void auxv_and_phdrs(void) {
  check(getauxval(AT_PAGESZ) == (unsigned long) page, "AT_PAGESZ");
  check(getauxval(AT_ENTRY) != 0, "AT_ENTRY");
  check(getauxval(AT_PHDR) != 0 && getauxval(AT_PHNUM) > 0, "AT_PHDR and AT_PHNUM");
  check(getauxval(AT_SECURE) == 0, "AT_SECURE is 0");
  check(getauxval(AT_SYSINFO_EHDR) != 0, "AT_SYSINFO_EHDR (the vDSO)");
  int loads = 0;
  dl_iterate_phdr(count_phdrs, &loads);
  check(loads > 0, "dl_iterate_phdr walks PT_LOAD headers");
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  check(n > 0, "/proc/self/exe");
}

static void maps_names_the_file(const char *dir) {
  int fd = temp_file(dir, page, 'a', 1);
  char *p = mmap(NULL, page, PROT_READ, MAP_PRIVATE, fd, 0);
  char path[256];
  strcpy(path, last_path);
  char want[64];
  snprintf(want, sizeof want, "%lx-", (unsigned long) p);
  char exe_path[4096];
  ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
  exe_path[n > 0 ? n : 0] = 0;
  FILE *maps = fopen("/proc/self/maps", "r");
  char line[512];
  int found = 0, exe = 0, same_file = 0;
  while (maps && fgets(line, sizeof line, maps)) {
    unsigned long lo, hi, off, ino;
    char perms[8], dev[16];
    int name = 0;
    if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %n", &lo, &hi, perms, &off, dev, &ino, &name) < 6) {
      check(0, "a /proc/self/maps line parses");
    }
    if (strncmp(line, want, strlen(want)) == 0 && strstr(line, path)) {
      /* Not compared with fstat: on overlayfs (an emulated machine's /tmp) Linux's maps show the
       * upper layer's device and inode while stat shows the overlay's. */
      found = 1;
      same_file = ino != 0 && strcmp(dev, "00:00") != 0 && off == 0 && strcmp(perms, "r--p") == 0;
    }
    if (n > 0 && strstr(line, exe_path) && strstr(line, "r-xp")) exe = 1;
  }
  if (maps) fclose(maps);
  check(found, "/proc/self/maps names the mapped file");
  check(same_file, "with a device, an inode, its offset and permissions");
  check(exe, "/proc/self/maps shows the program's text");
  munmap(p, page);
  close(fd);
  unlink(path);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  page = sysconf(_SC_PAGESIZE);
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct sigaction sa = {0};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  shared_between_processes(dir);
  private_copy_on_write(dir);
  past_the_end(dir);
  auxv_and_phdrs();
  maps_names_the_file(dir);
  printf("%d failures\n", failures);
  return failures != 0;
}
