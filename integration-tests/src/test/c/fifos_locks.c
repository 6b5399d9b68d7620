/* FIFOs and advisory locks between processes, as Linux has them: mkfifo and mknod's errnos,
 * blocking opens of FIFO ends that wait for the other end and are interrupted by a signal,
 * POSIX record locks (exclusion, F_GETLK, F_SETLKW woken by an unlock, EDEADLK, the release on
 * closing any descriptor of the file and on exec's close-on-exec), OFD locks and flock. Prints one line per check; the
 * vkernel's output must equal the native one. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"

static char dir[] = "/tmp/vk-fifo-XXXXXX";
static char fifo[64], file[64];

static void make_nodes(void) {
  struct stat st;
  printf("mkfifo: %s\n", err(mkfifo(fifo, 0600)));
  printf("is a fifo: %d\n", stat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));
  printf("mkfifo again: %s\n", err(mkfifo(fifo, 0600)));
  /* Neither may wait for a writer. */
  printf("truncate a fifo: %s\n", err(truncate(fifo, 0)));
  chmod(fifo, 0700);
  char *argv[] = {fifo, NULL};
  printf("execve a fifo: %s\n", err(execve(fifo, argv, argv + 1)));
  chmod(fifo, 0600);
  char path[80];
  snprintf(path, sizeof path, "%s/dev", dir);
  /* (A new device node is EPERM in the vkernel but made natively when the tests run as root.) */
  printf("mknod char device over the fifo: %s\n", err(mknod(fifo, S_IFCHR | 0600, makedev(1, 3))));
  printf("mknod directory: %s\n", err(mknod(path, S_IFDIR | 0700, 0)));
  printf("mknod bad type: %s\n", err(mknod(path, 0170000 | 0600, 0)));
  snprintf(path, sizeof path, "%s/plain", dir);
  printf("mknod regular: %s\n", err(mknod(path, 0600, 0)));
  printf("is a regular file: %d\n", stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0);
  unlink(path);
}

static void fifo_opens(void) {
  printf("open writer, no reader, O_NONBLOCK: %s\n", err(open(fifo, O_WRONLY | O_NONBLOCK)));
  int r = open(fifo, O_RDONLY | O_NONBLOCK);
  printf("open reader O_NONBLOCK: %s\n", err(r));
  int w = open(fifo, O_WRONLY | O_NONBLOCK);
  printf("open writer O_NONBLOCK with a reader: %s\n", err(w));
  close(w);
  close(r);
  int rw = open(fifo, O_RDWR);
  printf("open O_RDWR does not wait: %s\n", err(rw));
  close(rw);

  /* A blocking writer waits for the reader the parent opens later. */
  pid_t child = fork();
  if (child == 0) {
    int fd = open(fifo, O_WRONLY);
    if (fd < 0) _exit(1);
    _exit(write(fd, "through the fifo", 16) == 16 ? 0 : 2);
  }
  wait_until_sleeping(child);
  int fd = open(fifo, O_RDONLY);
  char buf[32] = {0};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  printf("reader got %zd bytes: %s\n", n, buf);
  printf("after the writer closed: read %zd\n", read(fd, buf, sizeof buf));
  close(fd);
  printf("writer exited with %d\n", reap(child));

  /* A blocking reader waits for a writer the child opens once the parent sleeps in open. */
  child = fork();
  if (child == 0) {
    wait_until_sleeping(getppid());
    int fd = open(fifo, O_WRONLY);
    _exit(fd >= 0 && write(fd, "x", 1) == 1 ? 0 : 1);
  }
  fd = open(fifo, O_RDONLY);
  printf("blocking reader opened: %s; read %zd\n", err(fd), read(fd, buf, 1));
  close(fd);
  printf("writer exited with %d\n", reap(child));
}

static void on_alarm(int sig) { (void)sig; }

static void fifo_open_interrupted(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm; /* no SA_RESTART: the open fails with EINTR */
  sigaction(SIGALRM, &sa, NULL);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) {
    wait_until_sleeping(parent);
    kill(parent, SIGALRM);
    _exit(0);
  }
  printf("blocking reader with no writer, interrupted: %s\n", err(open(fifo, O_RDONLY)));
  reap(child);
  child = fork();
  if (child == 0) {
    wait_until_sleeping(parent);
    kill(parent, SIGALRM);
    _exit(0);
  }
  printf("blocking writer with no reader, interrupted: %s\n", err(open(fifo, O_WRONLY)));
  reap(child);
  signal(SIGALRM, SIG_DFL);
}

static int setlk(int fd, int cmd, short type, off_t start, off_t len) {
  struct flock l = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  return fcntl(fd, cmd, &l);
}

static void record_locks(void) {
  int fd = open(file, O_RDWR | O_CREAT, 0600);
  printf("parent write-locks [0,10): %s\n", err(setlk(fd, F_SETLK, F_WRLCK, 0, 10)));
  printf("parent read-locks [20,30): %s\n", err(setlk(fd, F_SETLK, F_RDLCK, 20, 10)));
  pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) {
    int mine = open(file, O_RDWR);
    printf("  child write-locks [5,6): %s\n", err(setlk(mine, F_SETLK, F_WRLCK, 5, 1)));
    printf("  child read-locks [25,26): %s\n", err(setlk(mine, F_SETLK, F_RDLCK, 25, 1)));
    printf("  child write-locks [25,26): %s\n", err(setlk(mine, F_SETLK, F_WRLCK, 25, 1)));
    printf("  child write-locks [10,20): %s\n", err(setlk(mine, F_SETLK, F_WRLCK, 10, 10)));
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 3, .l_len = 1};
    fcntl(mine, F_GETLK, &q);
    printf("  F_GETLK: type %s start %lld len %lld pid is the parent's: %d\n",
           q.l_type == F_WRLCK ? "F_WRLCK" : q.l_type == F_RDLCK ? "F_RDLCK" : "F_UNLCK", (long long)q.l_start,
           (long long)q.l_len, q.l_pid == parent);
    q.l_type = F_RDLCK;
    q.l_start = 40;
    fcntl(mine, F_GETLK, &q);
    printf("  F_GETLK where free: %s\n", q.l_type == F_UNLCK ? "F_UNLCK" : "locked");
    fflush(stdout);
    /* Blocks until the parent unlocks. */
    printf("  child F_SETLKW [0,10): %s after the parent unlocked\n", err(setlk(mine, F_SETLKW, F_WRLCK, 0, 10)));
    _exit(0);
  }
  wait_until_sleeping(child);
  /* The child prints as soon as it has the lock: say it before unlocking, the result after. */
  printf("parent unlocks [0,10)\n");
  int unlocked = setlk(fd, F_SETLK, F_UNLCK, 0, 10);
  int status = reap(child);
  printf("unlock: %s; child exited with %d\n", err(unlocked), status);

  /* A read-only descriptor cannot take a write lock. */
  int ro = open(file, O_RDONLY);
  printf("write lock on a read-only descriptor: %s\n", err(setlk(ro, F_SETLK, F_WRLCK, 0, 1)));
  /* Closing any descriptor of the file drops the process's locks, also those taken through another. */
  printf("parent write-locks [0,1): %s\n", err(setlk(fd, F_SETLK, F_WRLCK, 0, 1)));
  close(ro);
  child = fork();
  if (child == 0) {
    int mine = open(file, O_RDWR);
    _exit(setlk(mine, F_SETLK, F_WRLCK, 0, 1) == 0 ? 0 : 1);
  }
  printf("after closing another descriptor the lock is gone: child exited with %d\n", reap(child));
  close(fd);
}

static void deadlock(void) {
  int fd = open(file, O_RDWR);
  setlk(fd, F_SETLK, F_WRLCK, 0, 1);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) {
    int mine = open(file, O_RDWR);
    setlk(mine, F_SETLK, F_WRLCK, 1, 1);
    /* Waits for the parent, who then asks for the child's byte. */
    int r = setlk(mine, F_SETLKW, F_WRLCK, 0, 1);
    _exit(r == 0 ? 0 : 1);
  }
  (void)parent;
  wait_until_sleeping(child);
  printf("the second waiter of a cycle: %s\n", err(setlk(fd, F_SETLKW, F_WRLCK, 1, 1)));
  setlk(fd, F_SETLK, F_UNLCK, 0, 1);
  printf("the first got its lock: child exited with %d\n", reap(child));
  close(fd);
}

static void ofd_locks(void) {
  int fd = open(file, O_RDWR);
  struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
  printf("OFD lock: %s\n", err(fcntl(fd, F_OFD_SETLK, &l)));
  pid_t child = fork();
  if (child == 0) {
    struct flock m = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int same = fcntl(fd, F_OFD_SETLK, &m); /* the inherited description owns it */
    int other = open(file, O_RDWR);
    int r = fcntl(other, F_OFD_SETLK, &m);
    int e = errno;
    struct flock q = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
    fcntl(other, F_OFD_GETLK, &q);
    printf("  child: same description %s, another %s, F_OFD_GETLK pid %d\n", err(same), r == 0 ? "ok" : (errno = e, err(-1)),
           q.l_pid);
    struct flock bad = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_pid = 1};
    printf("  child: OFD lock with l_pid set: %s\n", err(fcntl(other, F_OFD_SETLK, &bad)));
    fflush(stdout);
    _exit(0);
  }
  reap(child);
  close(fd); /* the description goes, and its lock with it */
  child = fork();
  if (child == 0) {
    int other = open(file, O_RDWR);
    struct flock m = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    _exit(fcntl(other, F_OFD_SETLK, &m) == 0 ? 0 : 1);
  }
  printf("after close the OFD lock is gone: child exited with %d\n", reap(child));
}

static void flocks(void) {
  int fd = open(file, O_RDONLY);
  printf("flock LOCK_EX: %s\n", err(flock(fd, LOCK_EX)));
  pid_t child = fork();
  if (child == 0) {
    int other = open(file, O_RDONLY);
    printf("  child: another description LOCK_SH|LOCK_NB: %s\n", err(flock(other, LOCK_SH | LOCK_NB)));
    printf("  child: the inherited one LOCK_EX|LOCK_NB: %s\n", err(flock(fd, LOCK_EX | LOCK_NB)));
    /* A record lock does not conflict with a flock. */
    int rw = open(file, O_RDWR);
    printf("  child: a record lock beside it: %s\n", err(setlk(rw, F_SETLK, F_WRLCK, 0, 0)));
    fflush(stdout);
    printf("  child: blocking LOCK_SH: %s after the parent unlocked\n", err(flock(other, LOCK_SH)));
    _exit(0);
  }
  wait_until_sleeping(child);
  printf("flock LOCK_UN\n");
  int unlocked = flock(fd, LOCK_UN);
  int status = reap(child);
  printf("unlock: %s; child exited with %d\n", err(unlocked), status);
  printf("flock bad operation: %s\n", err(flock(fd, 3)));
  close(fd);
}

/* exec closes the close-on-exec descriptors, and with them the process's POSIX locks on their
 * files; a lock through a descriptor that stays open survives. A child forked before the exec
 * checks both after it: the process re-executes itself with "after-exec" (see main). */
static void exec_drops_locks(void) {
  char kept[64];
  snprintf(kept, sizeof kept, "%s/kept", dir);
  int cloexec = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  int open_fd = open(kept, O_RDWR | O_CREAT, 0600);
  printf("lock through a close-on-exec descriptor: %s\n", err(setlk(cloexec, F_SETLK, F_WRLCK, 0, 1)));
  printf("lock through a kept descriptor: %s\n", err(setlk(open_fd, F_SETLK, F_WRLCK, 0, 1)));
  int go[2];
  if (pipe(go) != 0) return;
  pid_t child = fork();
  if (child == 0) {
    char c;
    close(go[1]);
    if (read(go[0], &c, 1) != 1) _exit(9);
    int a = open(file, O_RDWR), b = open(kept, O_RDWR);
    _exit((setlk(a, F_SETLK, F_WRLCK, 0, 1) == 0 ? 1 : 0) | (setlk(b, F_SETLK, F_WRLCK, 0, 1) != 0 ? 2 : 0));
  }
  close(go[0]);
  char fd_arg[16], pid_arg[16];
  snprintf(fd_arg, sizeof fd_arg, "%d", go[1]);
  snprintf(pid_arg, sizeof pid_arg, "%d", (int)child);
  char *argv[] = {"fifos_locks", "after-exec", dir, fd_arg, pid_arg, NULL};
  execv("/proc/self/exe", argv);
  printf("execv: %s\n", strerror(errno));
}

/* The second half of exec_drops_locks, in the new image; then the clean-up. */
static int after_exec(char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  snprintf(dir, sizeof dir, "%s", argv[2]);
  int go = atoi(argv[3]);
  pid_t child = atoi(argv[4]);
  if (write(go, "x", 1) != 1) printf("write: %s\n", strerror(errno));
  int status = reap(child);
  printf("after exec: the close-on-exec descriptor's lock is gone: %s, the kept one's holds: %s\n",
         status & 1 ? "yes" : "no", status & 2 ? "yes" : "no");
  char path[64];
  const char *names[] = {"fifo", "file", "kept"};
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    unlink(path);
  }
  printf("rmdir: %s\n", err(rmdir(dir)));
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "after-exec") == 0) {
    return after_exec(argv);
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (!mkdtemp(dir)) {
    printf("mkdtemp: %s\n", strerror(errno));
    return 1;
  }
  snprintf(fifo, sizeof fifo, "%s/fifo", dir);
  snprintf(file, sizeof file, "%s/file", dir);
  make_nodes();
  fifo_opens();
  fifo_open_interrupted();
  record_locks();
  deadlock();
  ofd_locks();
  flocks();
  exec_drops_locks();
  return 1;
}
