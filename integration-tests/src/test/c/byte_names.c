/* File names are bytes: a name holding bytes that are not UTF-8 (0x81, 0xff) and one holding
 * UTF-8 must come back byte for byte through every call that takes or returns a path: open,
 * stat, getdents64, rename, link, symlink and readlink, mkdir, chdir and getcwd,
 * /proc/self/cwd, /proc/self/fd/N, unlink and rmdir. Prints the bytes in hex; the vkernel's
 * output must equal the native one. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void hex(const char *what, const char *s, long n) {
  printf("%s:", what);
  for (long i = 0; i < n; i++) printf(" %02x", (unsigned char)s[i]);
  printf("\n");
}

static const char *res(int r) { return r == 0 ? "ok" : strerror(errno); }

/* Lists the directory, names in hex, sorted so that the order of the host's directory does not
 * matter. */
static void list(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) {
    printf("opendir: %s\n", strerror(errno));
    return;
  }
  char names[16][256];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < 16) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    strcpy(names[n++], e->d_name);
  }
  closedir(d);
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      if (strcmp(names[i], names[j]) > 0) {
        char t[256];
        memcpy(t, names[i], 256);
        memcpy(names[i], names[j], 256);
        memcpy(names[j], t, 256);
      }
  for (int i = 0; i < n; i++) hex("  entry", names[i], strlen(names[i]));
}

int main(void) {
  char base[] = "/tmp/vk-bytes-XXXXXX";
  if (!mkdtemp(base)) {
    printf("mkdtemp: %s\n", strerror(errno));
    return 1;
  }
  if (chdir(base) != 0) return 1;
  const char raw[] = "a\x81z\xff";    /* not UTF-8 */
  const char utf8[] = "caf\xc3\xa9"; /* UTF-8 */
  const char dir[] = "d\x80\xfe";
  int fd = open(raw, O_CREAT | O_WRONLY | O_EXCL, 0644);
  printf("open raw: %s\n", fd >= 0 ? "ok" : strerror(errno));
  if (fd >= 0) {
    char link[64], target[256];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    long n = readlink(link, target, sizeof target);
    /* The link holds the absolute path: print only its last component. */
    if (n > 0) {
      char *slash = memrchr(target, '/', n);
      hex("fd link tail", slash + 1, target + n - slash - 1);
    }
    close(fd);
  }
  struct stat st;
  printf("stat raw: %s\n", res(stat(raw, &st)));
  printf("stat utf8 before: %s\n", res(stat(utf8, &st)));
  printf("link raw utf8: %s\n", res(link(raw, utf8)));
  printf("mkdir: %s\n", res(mkdir(dir, 0755)));
  printf("symlink: %s\n", res(symlink(raw, "l\x90")));
  char target[64];
  long n = readlink("l\x90", target, sizeof target);
  if (n >= 0) hex("readlink", target, n);
  else printf("readlink: %s\n", strerror(errno));
  printf("stat through link: %s\n", res(stat("l\x90", &st)));
  list(".");
  printf("rename into dir: %s\n", res(rename(utf8, "d\x80\xfe/\xf0\x9f\x98\x80\xc0")));
  list(dir);
  printf("chdir: %s\n", res(chdir(dir)));
  char cwd[256];
  if (getcwd(cwd, sizeof cwd)) {
    char *slash = strrchr(cwd, '/');
    hex("getcwd tail", slash + 1, strlen(slash + 1));
  } else {
    printf("getcwd: %s\n", strerror(errno));
  }
  n = readlink("/proc/self/cwd", target, sizeof target);
  if (n > 0) {
    char *slash = memrchr(target, '/', n);
    hex("/proc/self/cwd tail", slash + 1, target + n - slash - 1);
  }
  printf("unlink moved: %s\n", res(unlink("\xf0\x9f\x98\x80\xc0")));
  printf("chdir ..: %s\n", res(chdir("..")));
  printf("rmdir: %s\n", res(rmdir(dir)));
  printf("unlink link: %s\n", res(unlink("l\x90")));
  printf("unlink raw: %s\n", res(unlink(raw)));
  list(".");
  chdir("/");
  printf("rmdir base: %s\n", res(rmdir(base)));
  return 0;
}
