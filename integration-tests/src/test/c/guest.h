/*
 * Helpers shared by the guest test programs (included, not built on its own): errno names that
 * read the same under musl and glibc, and the waits a program needs to line up a blocked child
 * with its parent. Each program's output is compared with its native run, so these only have to
 * be deterministic, not exhaustive.
 */
#ifndef VMSPACE_GUEST_H
#define VMSPACE_GUEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* The symbolic name of an errno value (strerror's text differs between the libcs). */
static inline const char *errname(int e) {
  switch (e) {
#define NAME(x) case x: return #x;
    NAME(EPERM) NAME(ENOENT) NAME(ESRCH) NAME(EINTR) NAME(EIO) NAME(ENXIO) NAME(E2BIG)
    NAME(ENOEXEC) NAME(EBADF) NAME(ECHILD) NAME(EAGAIN) NAME(ENOMEM) NAME(EACCES) NAME(EFAULT)
    NAME(EBUSY) NAME(EEXIST) NAME(EXDEV) NAME(ENODEV) NAME(ENOTDIR) NAME(EISDIR) NAME(EINVAL)
    NAME(ENFILE) NAME(EMFILE) NAME(ENOTTY) NAME(ETXTBSY) NAME(EFBIG) NAME(ENOSPC) NAME(ESPIPE)
    NAME(EROFS) NAME(EMLINK) NAME(EPIPE) NAME(ERANGE) NAME(EDEADLK) NAME(ENAMETOOLONG)
    NAME(ENOSYS) NAME(ENOTEMPTY) NAME(ELOOP) NAME(ENOMSG) NAME(EIDRM) NAME(EOVERFLOW)
    NAME(ENOTSOCK) NAME(EDESTADDRREQ) NAME(EMSGSIZE) NAME(EPROTOTYPE) NAME(ENOPROTOOPT)
    NAME(EPROTONOSUPPORT) NAME(EOPNOTSUPP) NAME(EAFNOSUPPORT) NAME(EADDRINUSE)
    NAME(EADDRNOTAVAIL) NAME(ENETUNREACH) NAME(ECONNABORTED) NAME(ECONNRESET) NAME(EISCONN)
    NAME(ENOTCONN) NAME(ETIMEDOUT) NAME(ECONNREFUSED) NAME(EALREADY) NAME(EINPROGRESS)
#undef NAME
    default: return strerror(e);
  }
}

/* "ok" for a call that succeeded (r >= 0), else the name of its errno. */
static inline const char *err(long r) {
  return r >= 0 ? "ok" : errname(errno);
}

/* Waits until process `pid` sleeps (state S in /proc/PID/stat): blocked in a call. */
static inline void wait_until_sleeping(pid_t pid) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  for (;;) {
    int fd = open(path, O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    if (n <= 0) return;
    buf[n] = 0;
    char *paren = strrchr(buf, ')');
    if (paren != NULL && paren[1] == ' ' && paren[2] == 'S') return;
    usleep(1000);
  }
}

/* Waits for `child` and gives its exit status, or 128 + the signal that ended it. */
static inline int reap(pid_t child) {
  int st;
  waitpid(child, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif
