/* host_lock: the guest side of HostLockTest. A host process (the test) holds a record lock on
 * bytes 0..9 of FILE and a flock on it; this program sees both, waits for them with F_SETLKW
 * and a blocking flock after writing DIR/waiting, checks that the host let go only after writing
 * DIR/released, then holds both locks itself until DIR/checked appears (the test meanwhile
 * checks that it cannot lock). Usage: host_lock FILE DIR */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static char path[4096];

static const char *marker(const char *dir, const char *name) {
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

static void touch(const char *dir, const char *name) {
  int fd = open(marker(dir, name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) close(fd);
}

static int exists(const char *dir, const char *name) {
  return access(marker(dir, name), F_OK) == 0;
}

static struct flock range(short type) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 10;
  return fl;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: host_lock FILE DIR\n");
    return 2;
  }
  const char *dir = argv[2];
  int fd = open(argv[1], O_RDWR);
  int ffd = open(argv[1], O_RDONLY);
  if (fd < 0 || ffd < 0) {
    perror("open");
    return 1;
  }
  struct flock fl = range(F_WRLCK);
  if (fcntl(fd, F_GETLK, &fl) != 0) perror("F_GETLK");
  printf("getlk: %s start %ld len %ld pid %d\n", fl.l_type == F_WRLCK ? "F_WRLCK" : fl.l_type == F_RDLCK ? "F_RDLCK" : "F_UNLCK",
         (long) fl.l_start, (long) fl.l_len, (int) fl.l_pid);
  fl = range(F_RDLCK);
  printf("setlk: %s\n", fcntl(fd, F_SETLK, &fl) == 0 ? "ok" : strerror(errno));
  printf("flock -n: %s\n", flock(ffd, LOCK_SH | LOCK_NB) == 0 ? "ok" : strerror(errno));
  fflush(stdout);

  touch(dir, "waiting");
  fl = range(F_WRLCK);
  int r = fcntl(fd, F_SETLKW, &fl);
  printf("setlkw: %s, after the host let go: %s\n", r == 0 ? "ok" : strerror(errno), exists(dir, "released") ? "yes" : "no");
  r = flock(ffd, LOCK_EX);
  printf("flock: %s, after the host let go: %s\n", r == 0 ? "ok" : strerror(errno), exists(dir, "flock-released") ? "yes" : "no");
  fflush(stdout);

  touch(dir, "guest-holds");
  while (!exists(dir, "checked")) usleep(50000);
  return 0;
}
