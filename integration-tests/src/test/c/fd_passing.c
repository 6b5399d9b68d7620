/* Descriptor passing, signal descriptors and socket timeouts, as Linux has them:
 * SCM_RIGHTS between a parent and a forked child over stream, datagram and seqpacket socket
 * pairs (an open file whose offset is shared, a pipe end, a socket; reading through what was
 * received), MSG_CTRUNC with the excess closed, no control buffer, MSG_CMSG_CLOEXEC, MSG_PEEK,
 * a stream read stopping after a message with descriptors, the errors (EBADF, EINVAL), and a
 * passed descriptor kept open while in flight and closed with the socket that queued it;
 * signalfd with SIGUSR1 and SIGCHLD blocked and sent by a child (poll, select, epoll, the
 * ssi_signo/ssi_code/ssi_pid/ssi_uid/ssi_status fields, EAGAIN, a blocking read, EINTR, the
 * mask changed through the descriptor, the errors); SO_RCVTIMEO and SO_SNDTIMEO ending waits
 * with EAGAIN. Prints one line per check; the vkernel's output must equal the native one. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *err(long r) {
  if (r >= 0) return "ok";
  switch (errno) {
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EAGAIN: return "EAGAIN";
    case EINTR: return "EINTR";
    case EDOM: return "EDOM";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return strerror(errno);
  }
}

/* sendmsg of len bytes with n descriptors (none if n is 0). */
static long send_fds(int sock, const char *data, size_t len, const int *fds, int n) {
  union { char buf[CMSG_SPACE(sizeof(int) * 8)]; struct cmsghdr align; } u;
  struct iovec iov = { (void *)data, len };
  struct msghdr m = { 0 };
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (n > 0) {
    memset(u.buf, 0, sizeof u.buf);
    m.msg_control = u.buf;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
  }
  return sendmsg(sock, &m, 0);
}

/* recvmsg into buf with a control buffer of controllen bytes (0: none); the descriptors
 * received go to fds (their count to *n), msg_flags to *flags. */
static long recv_fds(int sock, char *buf, size_t len, size_t controllen, int rflags, int *fds, int *n, int *flags) {
  union { char buf[CMSG_SPACE(sizeof(int) * 16)]; struct cmsghdr align; } u;
  struct iovec iov = { buf, len };
  struct msghdr m = { 0 };
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = controllen ? u.buf : NULL;
  m.msg_controllen = controllen;
  long r = recvmsg(sock, &m, rflags);
  *n = 0;
  if (r < 0) return r;
  *flags = m.msg_flags;
  if (controllen) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        memcpy(fds + *n, CMSG_DATA(c), sizeof(int) * k);
        *n += k;
      }
    }
  }
  return r;
}

/* What a parent says while its child prints: printed after the child has exited, so that the
 * output does not depend on how the two are scheduled. */
static char logbuf[4096];
static size_t loglen;
#define LOG(...) (loglen += snprintf(logbuf + loglen, sizeof logbuf - loglen, __VA_ARGS__))

static void flush_log(void) {
  fputs(logbuf, stdout);
  loglen = 0;
  logbuf[0] = 0;
}

static void go(int fd) {
  if (write(fd, "g", 1) != 1) _exit(90);
}

static void wait_go(int fd) {
  char c;
  if (read(fd, &c, 1) != 1) _exit(91);
}

static int cloexec(int fd) {
  return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

/* The child's side of the stream checks: prints what it receives. */
static void stream_child(int s, int gofd) {
  char buf[128];
  int fds[16], n, flags;
  /* 1: an open file, a pipe's read end and a socket, read through. */
  wait_go(gofd);
  long r = recv_fds(s, buf, sizeof buf, CMSG_SPACE(sizeof(int) * 16), 0, fds, &n, &flags);
  printf("child: got %ld bytes \"%.*s\" with %d fds, flags %#x, cloexec %d%d%d\n", r, (int)r, buf, n, flags,
         cloexec(fds[0]), cloexec(fds[1]), cloexec(fds[2]));
  r = read(fds[0], buf, sizeof buf);
  printf("child: file says \"%.*s\"\n", (int)r, buf);
  r = read(fds[1], buf, sizeof buf);
  printf("child: pipe says \"%.*s\"\n", (int)r, buf);
  r = recv(fds[2], buf, sizeof buf, 0);
  printf("child: passed socket says \"%.*s\"\n", (int)r, buf);
  r = send(fds[2], "reply over the passed socket", 28, 0);
  close(fds[0]);
  close(fds[1]);
  close(fds[2]);
  /* 2: MSG_CMSG_CLOEXEC. */
  wait_go(gofd);
  r = recv_fds(s, buf, sizeof buf, CMSG_SPACE(sizeof(int) * 16), MSG_CMSG_CLOEXEC, fds, &n, &flags);
  printf("child: MSG_CMSG_CLOEXEC: %ld bytes, %d fd, cloexec %d, flags %#x\n", r, n, cloexec(fds[0]), flags);
  close(fds[0]);
  /* 3: room for one of two: the second (the only write end of a pipe) is closed. */
  wait_go(gofd);
  r = recv_fds(s, buf, sizeof buf, CMSG_LEN(sizeof(int)), 0, fds, &n, &flags);
  printf("child: room for 1 of 2: %ld bytes, %d fd, MSG_CTRUNC %d\n", r, n, (flags & MSG_CTRUNC) != 0);
  r = read(fds[0], buf, sizeof buf);
  printf("child: the dropped write end is closed: read = %ld\n", r);
  close(fds[0]);
  /* 4: no control buffer at all. */
  wait_go(gofd);
  r = recv_fds(s, buf, sizeof buf, 0, 0, fds, &n, &flags);
  printf("child: no control buffer: %ld bytes, MSG_CTRUNC %d\n", r, (flags & MSG_CTRUNC) != 0);
  /* 5: a control buffer shorter than a header. */
  wait_go(gofd);
  r = recv_fds(s, buf, sizeof buf, sizeof(struct cmsghdr), 0, fds, &n, &flags);
  printf("child: a header's room only: %ld bytes, %d fds, MSG_CTRUNC %d\n", r, n, (flags & MSG_CTRUNC) != 0);
  /* 6: a read stops after the message with descriptors; MSG_PEEK gets them too. */
  wait_go(gofd);
  r = recv_fds(s, buf, 4, CMSG_SPACE(sizeof(int) * 16), MSG_PEEK, fds, &n, &flags);
  int peeked = n;
  if (n) close(fds[0]);
  printf("child: peek: %ld bytes \"%.*s\", %d fds\n", r, (int)r, buf, peeked);
  r = recv_fds(s, buf, sizeof buf, CMSG_SPACE(sizeof(int) * 16), 0, fds, &n, &flags);
  printf("child: first read \"%.*s\" with %d fds\n", (int)r, buf, n);
  if (n) {
    long k = pread(fds[0], buf, 5, 0);
    printf("child: pread through it: \"%.*s\"\n", (int)k, buf);
    close(fds[0]);
  }
  r = recv_fds(s, buf, sizeof buf, CMSG_SPACE(sizeof(int) * 16), 0, fds, &n, &flags);
  printf("child: second read \"%.*s\" with %d fds\n", (int)r, buf, n);
  fflush(stdout);
}

static void stream_passing(void) {
  int sp[2], inner[2], p[2], gop[2];
  char path[] = "/tmp/vk-fdpass-XXXXXX";
  int file = mkstemp(path);
  unlink(path);
  if (write(file, "contents of an unlinked file", 28) != 28) exit(2);
  lseek(file, 0, SEEK_SET);
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) || socketpair(AF_UNIX, SOCK_STREAM, 0, inner) || pipe(p) || pipe(gop)) exit(2);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(sp[0]);
    close(gop[1]);
    close(file);
    close(p[0]);
    close(p[1]);
    close(inner[0]);
    close(inner[1]);
    stream_child(sp[1], gop[0]);
    _exit(0);
  }
  close(sp[1]);
  close(gop[0]);
  int three[3] = { file, p[0], inner[1] };
  LOG("parent: sendmsg with 3 fds: %s\n", err(send_fds(sp[0], "three", 5, three, 3)));
  close(p[0]);
  close(inner[1]);
  if (write(p[1], "through the pipe", 16) != 16) exit(2);
  close(p[1]);
  if (send(inner[0], "over the passed socket", 22, 0) != 22) exit(2);
  go(gop[1]);
  char buf[64];
  long r = recv(inner[0], buf, sizeof buf, 0);
  LOG("parent: inner socket says \"%.*s\"\n", (int)r, buf);
  off_t off = lseek(file, 0, SEEK_CUR);
  LOG("parent: the file's offset moved with the child's read: %ld\n", (long)off);

  int one = file;
  LOG("parent: sendmsg with 1 fd: %s\n", err(send_fds(sp[0], "cloexec", 7, &one, 1)));
  go(gop[1]);

  int q[2];
  if (pipe(q)) exit(2);
  int two[2] = { q[0], q[1] };
  LOG("parent: sendmsg with 2 fds: %s\n", err(send_fds(sp[0], "two", 3, two, 2)));
  close(q[0]);
  close(q[1]);
  go(gop[1]);

  LOG("parent: sendmsg for no control buffer: %s\n", err(send_fds(sp[0], "none", 4, &one, 1)));
  go(gop[1]);
  LOG("parent: sendmsg for a header's room: %s\n", err(send_fds(sp[0], "hdr", 3, &one, 1)));
  go(gop[1]);

  LOG("parent: AAAA %s", err(send_fds(sp[0], "AAAA", 4, NULL, 0)));
  LOG(", BBBB with an fd %s", err(send_fds(sp[0], "BBBB", 4, &one, 1)));
  LOG(", CCCC %s\n", err(send_fds(sp[0], "CCCC", 4, NULL, 0)));
  go(gop[1]);
  int status;
  waitpid(pid, &status, 0);
  LOG("parent: child exited %d\n", WEXITSTATUS(status));
  close(sp[0]);
  close(gop[1]);
  close(inner[0]);
  close(file);
}

/* Datagram and seqpacket: descriptors go with their message. */
static void packet_passing(int type, const char *name) {
  int sp[2];
  if (socketpair(AF_UNIX, type, 0, sp)) exit(2);
  char path[] = "/tmp/vk-fdpass-XXXXXX";
  int file = mkstemp(path);
  unlink(path);
  if (write(file, name, strlen(name)) != (long)strlen(name)) exit(2);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(sp[0]);
    char buf[64];
    int fds[16], n, flags;
    long r = recv_fds(sp[1], buf, sizeof buf, CMSG_SPACE(sizeof(int) * 16), 0, fds, &n, &flags);
    printf("%s child: first \"%.*s\" with %d fds\n", name, (int)r, buf, n);
    long k = pread(fds[0], buf, sizeof buf, 0);
    printf("%s child: file says \"%.*s\"\n", name, (int)k, buf);
    close(fds[0]);
    r = recv_fds(sp[1], buf, sizeof buf, CMSG_SPACE(sizeof(int) * 16), 0, fds, &n, &flags);
    printf("%s child: then %ld bytes with %d fds\n", name, r, n);
    if (n == 1) {
      r = send(fds[0], "answer", 6, 0);
      close(fds[0]);
    }
    fflush(stdout);
    _exit(0);
  }
  close(sp[1]);
  int back[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM, 0, back)) exit(2);
  LOG("%s parent: send with the file: %s\n", name, err(send_fds(sp[0], "msg-with-fd", 11, &file, 1)));
  LOG("%s parent: an empty message with a socket: %s\n", name, err(send_fds(sp[0], "", 0, &back[1], 1)));
  close(back[1]);
  char buf[16];
  long r = recv(back[0], buf, sizeof buf, 0);
  LOG("%s parent: the socket sent back \"%.*s\"\n", name, (int)r, buf);
  int status;
  waitpid(pid, &status, 0);
  flush_log();
  close(back[0]);
  close(sp[0]);
  close(file);
}

static void passing_errors(void) {
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sp)) exit(2);
  int bad = 999;
  printf("errors: a closed fd: %s\n", err(send_fds(sp[0], "x", 1, &bad, 1)));
  union { char buf[64]; struct cmsghdr align; } u;
  memset(u.buf, 0, sizeof u.buf);
  struct iovec iov = { "x", 1 };
  struct msghdr m = { 0 };
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = u.buf;
  struct cmsghdr *c = (struct cmsghdr *)u.buf;
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = 8;
  m.msg_controllen = CMSG_SPACE(sizeof(int));
  printf("errors: cmsg_len shorter than a header: %s\n", err(sendmsg(sp[0], &m, 0)));
  c->cmsg_len = CMSG_SPACE(sizeof(int)) + 8;
  printf("errors: cmsg_len past the buffer: %s\n", err(sendmsg(sp[0], &m, 0)));
  c->cmsg_len = CMSG_LEN(sizeof(int));
  c->cmsg_type = 99;
  printf("errors: an unknown SOL_SOCKET type: %s\n", err(sendmsg(sp[0], &m, 0)));
  c->cmsg_level = 6; /* IPPROTO_TCP: skipped on a unix socket */
  printf("errors: another level is ignored: %s\n", err(sendmsg(sp[0], &m, 0)));
  char b[4];
  printf("errors: and the message went: %s\n", err(recv(sp[1], b, sizeof b, MSG_DONTWAIT)));

  /* A passed descriptor stays open while in flight, and closes with the socket holding it. */
  int p[2];
  if (pipe2(p, O_NONBLOCK)) exit(2);
  printf("in flight: send the only write end: %s\n", err(send_fds(sp[0], "w", 1, &p[1], 1)));
  close(p[1]);
  printf("in flight: the reader sees no EOF: %s\n", err(read(p[0], b, 1)));
  close(sp[1]);
  printf("in flight: after closing the receiver, read = %ld\n", (long)read(p[0], b, 1));
  close(p[0]);
  close(sp[0]);
}

static volatile sig_atomic_t usr1_handled, usr2_handled;
static void on_usr1(int s) { (void)s; usr1_handled++; }
static void on_usr2(int s) { (void)s; usr2_handled++; }

static void print_info(const char *what, struct signalfd_siginfo *si, pid_t child) {
  printf("%s: signo %u code %d pid %s uid %s", what, si->ssi_signo, si->ssi_code,
         (pid_t)si->ssi_pid == child ? "=child" : (pid_t)si->ssi_pid == getpid() ? "=self" : "other",
         si->ssi_uid == getuid() ? "=uid" : "other");
  if (si->ssi_signo == SIGCHLD) printf(" status %d", si->ssi_status);
  printf("\n");
}

static void signal_fds(void) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  printf("signalfd: %s, cloexec %d, nonblock %d\n", err(sfd), cloexec(sfd), (fcntl(sfd, F_GETFL) & O_NONBLOCK) != 0);
  struct signalfd_siginfo si[4];
  printf("signalfd: empty read: %s\n", err(read(sfd, si, sizeof si)));
  printf("signalfd: 100-byte read: %s\n", err(read(sfd, si, 100)));
  printf("signalfd: write: %s\n", err(write(sfd, si, sizeof si[0])));
  struct pollfd pfd = { sfd, POLLIN, 0 };
  printf("signalfd: poll before: %d\n", poll(&pfd, 1, 0));

  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    kill(getppid(), SIGUSR1);
    _exit(7);
  }
  pfd.revents = 0;
  int n = poll(&pfd, 1, 10000);
  printf("signalfd: poll: %d revents %#x\n", n, pfd.revents);
  siginfo_t wi;
  waitid(P_PID, child, &wi, WEXITED | WNOWAIT);
  long r = read(sfd, si, sizeof si);
  printf("signalfd: read %ld bytes = %ld records\n", r, r / (long)sizeof si[0]);
  for (long i = 0; i < r / (long)sizeof si[0]; i++) print_info("  record", &si[i], child);
  waitpid(child, NULL, 0);
  printf("signalfd: poll after: %d\n", poll(&pfd, 1, 0));

  /* Thread-directed (raise is tgkill): epoll and select see it; a signal read is not delivered. */
  struct sigaction sa = { 0 };
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 42 };
  printf("epoll: add signalfd: %s\n", err(epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev)));
  printf("epoll: nothing yet: %d\n", epoll_wait(ep, &ev, 1, 0));
  raise(SIGUSR1);
  n = epoll_wait(ep, &ev, 1, 10000);
  printf("epoll: %d event(s), data %llu, events %#x\n", n, (unsigned long long)ev.data.u64, ev.events);
  fd_set rs;
  FD_ZERO(&rs);
  FD_SET(sfd, &rs);
  struct timeval tv = { 0, 0 };
  printf("select: %d, set %d\n", select(sfd + 1, &rs, NULL, NULL, &tv), FD_ISSET(sfd, &rs));
  r = read(sfd, si, sizeof si);
  printf("signalfd: read %ld records\n", r / (long)sizeof si[0]);
  print_info("  record", &si[0], 0);
  sigset_t un;
  sigemptyset(&un);
  sigaddset(&un, SIGUSR1);
  sigprocmask(SIG_UNBLOCK, &un, NULL);
  printf("signalfd: the handler ran %d times after unblocking\n", usr1_handled);
  sigprocmask(SIG_BLOCK, &un, NULL);
  close(ep);

  /* The mask through the descriptor; a blocking read; EINTR from another signal. */
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, SIGUSR1);
  sigaddset(&only, SIGKILL); /* silently ignored */
  printf("signalfd: new mask: %s\n", err(signalfd(sfd, &only, 0) == sfd ? 0 : -1));
  fcntl(sfd, F_SETFL, 0);
  fflush(stdout);
  child = fork();
  if (child == 0) {
    struct timespec ts = { 0, 100 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    kill(getppid(), SIGUSR1);
    _exit(3);
  }
  r = read(sfd, si, sizeof si);
  printf("signalfd: blocking read %ld records\n", r / (long)sizeof si[0]);
  print_info("  record", &si[0], child);
  waitpid(child, NULL, 0);
  sigset_t pend;
  sigpending(&pend);
  printf("signalfd: SIGCHLD left pending: %d\n", sigismember(&pend, SIGCHLD));

  sa.sa_handler = on_usr2;
  sa.sa_flags = 0;
  sigaction(SIGUSR2, &sa, NULL);
  fflush(stdout);
  child = fork();
  if (child == 0) {
    struct timespec ts = { 0, 100 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    kill(getppid(), SIGUSR2);
    _exit(0);
  }
  r = read(sfd, si, sizeof si);
  printf("signalfd: a handled signal interrupts the read: %s, handler %d\n", err(r), usr2_handled);
  waitpid(child, NULL, 0);

  int pp[2];
  if (pipe(pp)) exit(2);
  printf("errors: bad flags: %s\n", err(signalfd(-1, &mask, 1)));
  printf("errors: sizemask 4: %s\n", err(syscall(SYS_signalfd4, -1, &mask, 4, 0)));
  printf("errors: not a signalfd: %s\n", err(signalfd(pp[0], &mask, 0)));
  printf("errors: a closed fd: %s\n", err(signalfd(999, &mask, 0)));
  close(pp[0]);
  close(pp[1]);
  close(sfd);
  sigprocmask(SIG_UNBLOCK, &mask, NULL);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void timeouts(void) {
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp)) exit(2);
  struct timeval tv = { 0, 200000 }, got;
  socklen_t len = sizeof got;
  printf("SO_RCVTIMEO set: %s\n", err(setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv)));
  const char *e = err(getsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &got, &len));
  printf("SO_RCVTIMEO get: %s %ld.%06ld len %u\n", e, (long)got.tv_sec, (long)got.tv_usec, len);
  struct timeval bad = { 1, 1000000 };
  printf("SO_RCVTIMEO with tv_usec 1000000: %s\n", err(setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &bad, sizeof bad)));
  printf("SO_RCVTIMEO with a short length: %s\n", err(setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, 8)));
  char buf[8];
  double t0 = now();
  long r = recv(sp[0], buf, sizeof buf, 0);
  double dt = now() - t0;
  printf("recv: %s after the timeout: %s\n", err(r), dt >= 0.19 && dt < 10 ? "yes" : "no");
  t0 = now();
  r = read(sp[0], buf, sizeof buf);
  dt = now() - t0;
  printf("read: %s after the timeout: %s\n", err(r), dt >= 0.19 && dt < 10 ? "yes" : "no");

  int fl = fcntl(sp[0], F_GETFL);
  fcntl(sp[0], F_SETFL, fl | O_NONBLOCK);
  static char block[4096];
  long sent = 0;
  while ((r = send(sp[0], block, sizeof block, 0)) > 0) sent += r;
  fcntl(sp[0], F_SETFL, fl);
  printf("filled: %s\n", sent > 0 && errno == EAGAIN ? "yes" : "no");
  printf("SO_SNDTIMEO set: %s\n", err(setsockopt(sp[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv)));
  len = sizeof got;
  getsockopt(sp[0], SOL_SOCKET, SO_SNDTIMEO, &got, &len);
  printf("SO_SNDTIMEO get: %ld.%06ld\n", (long)got.tv_sec, (long)got.tv_usec);
  t0 = now();
  r = send(sp[0], block, sizeof block, 0);
  dt = now() - t0;
  printf("send: %s after the timeout: %s\n", err(r), dt >= 0.19 && dt < 10 ? "yes" : "no");
  t0 = now();
  r = write(sp[0], block, sizeof block);
  dt = now() - t0;
  printf("write: %s after the timeout: %s\n", err(r), dt >= 0.19 && dt < 10 ? "yes" : "no");
  struct timeval zero = { 0, 0 };
  setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof zero);
  len = sizeof got;
  getsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &got, &len);
  printf("SO_RCVTIMEO cleared: %ld.%06ld\n", (long)got.tv_sec, (long)got.tv_usec);
  close(sp[0]);
  close(sp[1]);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  stream_passing();
  packet_passing(SOCK_DGRAM, "dgram");
  packet_passing(SOCK_SEQPACKET, "seqpacket");
  passing_errors();
  signal_fds();
  timeouts();
  printf("done\n");
  return 0;
}
