/* AF_UNIX sockets between processes, as Linux has them: stream, datagram and seqpacket sockets
 * on a path in /tmp and in the abstract namespace, a forked server and client, SO_PEERCRED,
 * shutdown and EOF, EPIPE with SIGPIPE ignored and the signal when not, poll and epoll
 * readiness (POLLIN, POLLOUT, POLLHUP, POLLRDHUP), MSG_PEEK/MSG_DONTWAIT/MSG_TRUNC and the
 * errors (ECONNREFUSED, EADDRINUSE, ENOENT, EISCONN, ENOTCONN). Prints one line per check; the
 * vkernel's output must equal the native one. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"

static char dir[] = "/tmp/vk-unix-XXXXXX";

static socklen_t path_addr(struct sockaddr_un *a, const char *name) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  snprintf(a->sun_path, sizeof a->sun_path, "%s/%s", dir, name);
  return offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1;
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  strcpy(a->sun_path + 1, name);
  return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

/* A server on addr (type), a forked client that sends "ping" and reads the answer. */
static void client_server(const char *what, int type, struct sockaddr_un *addr, socklen_t len) {
  int srv = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  printf("%s bind %s\n", what, err(bind(srv, (struct sockaddr *)addr, len)));
  printf("%s listen %s\n", what, err(listen(srv, 4)));
  int again = socket(AF_UNIX, type, 0);
  printf("%s bind again %s\n", what, err(bind(again, (struct sockaddr *)addr, len)));
  close(again);
  pid_t child = fork();
  if (child == 0) {
    int c = socket(AF_UNIX, type, 0);
    if (connect(c, (struct sockaddr *)addr, len) < 0) _exit(10);
    if (connect(c, (struct sockaddr *)addr, len) == 0 || errno != EISCONN) _exit(11);
    struct ucred cr;
    socklen_t crl = sizeof cr;
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &crl) < 0 || cr.pid != getppid() || cr.uid != getuid()) _exit(12);
    if (send(c, "ping", 4, 0) != 4) _exit(13);
    if (type == SOCK_SEQPACKET && send(c, "second", 6, 0) != 6) _exit(14);
    char buf[16];
    if (recv(c, buf, sizeof buf, 0) != 4 || memcmp(buf, "pong", 4) != 0) _exit(15);
    if (shutdown(c, SHUT_WR) < 0) _exit(16);
    if (recv(c, buf, sizeof buf, 0) != 0) _exit(17); /* the server closes: EOF */
    _exit(0);
  }
  struct sockaddr_un peer;
  socklen_t pl = sizeof peer;
  int s = accept4(srv, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
  printf("%s accept %s peer-len %d\n", what, err(s), (int)pl);
  struct ucred cr;
  socklen_t crl = sizeof cr;
  getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &crl);
  printf("%s peercred pid-is-child %d uid-is-mine %d\n", what, cr.pid == child, cr.uid == getuid());
  struct sockaddr_un me;
  socklen_t ml = sizeof me;
  getsockname(s, (struct sockaddr *)&me, &ml);
  printf("%s sockname same %d\n", what, ml == len && memcmp(&me, addr, len) == 0);
  int t;
  socklen_t tl = sizeof t;
  getsockopt(s, SOL_SOCKET, SO_TYPE, &t, &tl);
  printf("%s so_type %d\n", what, t == type);
  char buf[16];
  struct sockaddr_un from;
  socklen_t fl = sizeof from;
  ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
  printf("%s recv %zd %.*s from-len %d\n", what, n, (int)(n > 0 ? n : 0), buf, (int)fl);
  if (type == SOCK_SEQPACKET) {
    n = recv(s, buf, 3, 0); /* a record cut short: the rest is dropped */
    printf("%s recv short %zd\n", what, n);
  }
  printf("%s send %zd\n", what, send(s, "pong", 4, 0));
  n = recv(s, buf, sizeof buf, 0);
  printf("%s eof %zd\n", what, n);
  close(s);
  int status;
  waitpid(child, &status, 0);
  printf("%s client exit %d\n", what, WEXITSTATUS(status));
  close(srv);
}

static void datagrams(void) {
  struct sockaddr_un a, b, from;
  socklen_t al = path_addr(&a, "dgram-a"), bl = abstract_addr(&b, "vk-dgram-b");
  int x = socket(AF_UNIX, SOCK_DGRAM, 0), y = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  printf("dgram bind %s %s\n", err(bind(x, (struct sockaddr *)&a, al)), err(bind(y, (struct sockaddr *)&b, bl)));
  char buf[64];
  printf("dgram empty %s\n", err(recv(y, buf, sizeof buf, 0)));
  pid_t child = fork();
  if (child == 0) {
    sendto(x, "hello datagram", 14, 0, (struct sockaddr *)&b, bl);
    sendto(x, "two", 3, 0, (struct sockaddr *)&b, bl);
    _exit(0);
  }
  waitpid(child, NULL, 0);
  socklen_t fl = sizeof from;
  ssize_t n = recvfrom(y, buf, 5, MSG_PEEK, (struct sockaddr *)&from, &fl);
  printf("dgram peek %zd %.5s\n", n, buf);
  n = recvfrom(y, buf, 5, MSG_TRUNC, (struct sockaddr *)&from, &fl);
  printf("dgram trunc %zd from-is-a %d\n", n, fl == al && memcmp(&from, &a, al) == 0);
  struct iovec iov[2] = {{buf, 1}, {buf + 1, 10}};
  struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
  n = recvmsg(y, &m, 0);
  printf("dgram recvmsg %zd %.3s flags %d\n", n, buf, m.msg_flags);
  struct sockaddr_un none;
  socklen_t nl = abstract_addr(&none, "vk-nobody-here");
  printf("dgram to nobody %s\n", err(sendto(x, "z", 1, 0, (struct sockaddr *)&none, nl)));
  printf("dgram connect %s\n", err(connect(x, (struct sockaddr *)&b, bl)));
  printf("dgram send %zd\n", send(x, "c", 1, 0));
  printf("dgram recv %zd\n", recv(y, buf, sizeof buf, MSG_DONTWAIT));
  close(x);
  close(y);
}

static void errors(void) {
  struct sockaddr_un a;
  socklen_t al = path_addr(&a, "missing");
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  printf("connect missing %s\n", err(connect(s, (struct sockaddr *)&a, al)));
  al = path_addr(&a, "regular");
  close(open(a.sun_path, O_CREAT | O_WRONLY, 0600));
  printf("connect regular %s\n", err(connect(s, (struct sockaddr *)&a, al)));
  printf("bind regular %s\n", err(bind(s, (struct sockaddr *)&a, al)));
  printf("send unconnected %s\n", err(send(s, "x", 1, MSG_NOSIGNAL)));
  struct sockaddr_un p;
  socklen_t pl = sizeof p;
  printf("getpeername unconnected %s\n", err(getpeername(s, (struct sockaddr *)&p, &pl)));
  al = path_addr(&a, "gone");
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  bind(l, (struct sockaddr *)&a, al);
  struct stat st;
  int r = stat(a.sun_path, &st);
  printf("socket file %s is-sock %d\n", err(r), S_ISSOCK(st.st_mode));
  printf("connect not listening %s\n", err(connect(s, (struct sockaddr *)&a, al)));
  int d = socket(AF_UNIX, SOCK_DGRAM, 0);
  listen(l, 1);
  printf("connect wrong type %s\n", err(connect(d, (struct sockaddr *)&a, al)));
  printf("listen dgram %s\n", err(listen(d, 1)));
  unlink(a.sun_path);
  printf("connect unlinked %s\n", err(connect(s, (struct sockaddr *)&a, al)));
  close(l);
  close(d);
  close(s);
  printf("bind on a pipe %s\n", err(bind(0, (struct sockaddr *)&a, al)));
}

static int sigpipes;
static void on_pipe(int sig) { (void)sig; sigpipes++; }

static void pipes_and_readiness(void) {
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  struct pollfd pf = {sv[0], POLLIN | POLLOUT | POLLRDHUP, 0};
  int n;
  n = poll(&pf, 1, 0);
  printf("poll idle %d revents %#x\n", n, pf.revents);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = 42}, out[2];
  epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev);
  printf("epoll idle %d\n", epoll_wait(ep, out, 2, 0));
  write(sv[1], "abc", 3);
  n = poll(&pf, 1, 0);
  printf("poll data %d revents %#x\n", n, pf.revents);
  n = epoll_wait(ep, out, 2, 1000);
  printf("epoll data %d events %#x data %llu\n", n, out[0].events, (unsigned long long)out[0].data.u64);
  char buf[8];
  ssize_t peek = recv(sv[0], buf, 8, MSG_PEEK);
  ssize_t got = read(sv[0], buf, 8);
  printf("peek %zd read %zd", peek, got);
  printf(" dontwait %s\n", err(recv(sv[0], buf, 8, MSG_DONTWAIT)));
  shutdown(sv[1], SHUT_WR);
  n = poll(&pf, 1, 0);
  printf("poll rdhup %d revents %#x\n", n, pf.revents);
  printf("read after shutdown %zd\n", read(sv[0], buf, 8));
  close(sv[1]);
  n = poll(&pf, 1, 0);
  printf("poll closed %d revents %#x\n", n, pf.revents);
  signal(SIGPIPE, SIG_IGN);
  printf("write ignored %s\n", err(write(sv[0], "x", 1)));
  signal(SIGPIPE, on_pipe);
  printf("send handled %s sigpipes %d\n", err(send(sv[0], "x", 1, 0)), sigpipes);
  printf("send nosignal %s sigpipes %d\n", err(send(sv[0], "x", 1, MSG_NOSIGNAL)), sigpipes);
  signal(SIGPIPE, SIG_DFL);
  pid_t child = fork();
  if (child == 0) {
    write(sv[0], "x", 1);
    _exit(0);
  }
  int status;
  waitpid(child, &status, 0);
  printf("default sigpipe killed %d sig %d\n", WIFSIGNALED(status), WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  close(sv[0]);
  close(ep);

  /* A listener is readable when a connection waits; accept blocks until then. */
  struct sockaddr_un a;
  socklen_t al = abstract_addr(&a, "vk-listen-epoll");
  int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  bind(l, (struct sockaddr *)&a, al);
  listen(l, 2);
  printf("accept none %s\n", err(accept(l, NULL, NULL)));
  ep = epoll_create1(0);
  ev.events = EPOLLIN;
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  child = fork();
  if (child == 0) {
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, al);
    write(c, "late", 4);
    close(c);
    _exit(0);
  }
  n = epoll_wait(ep, out, 2, 10000);
  printf("epoll listener %d events %#x\n", n, out[0].events);
  int s = accept(l, NULL, NULL);
  fcntl(s, F_SETFL, 0);
  printf("accepted read %zd\n", read(s, buf, 8));
  printf("accepted eof %zd\n", read(s, buf, 8));
  waitpid(child, NULL, 0);
  close(s);
  close(l);
  close(ep);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (!mkdtemp(dir)) return 1;
  struct sockaddr_un a;
  socklen_t al = path_addr(&a, "stream");
  client_server("path-stream", SOCK_STREAM, &a, al);
  al = abstract_addr(&a, "vk-abstract-stream");
  client_server("abstract-stream", SOCK_STREAM, &a, al);
  al = path_addr(&a, "seqpacket");
  client_server("path-seqpacket", SOCK_SEQPACKET, &a, al);
  al = abstract_addr(&a, "vk-abstract-seqpacket");
  client_server("abstract-seqpacket", SOCK_SEQPACKET, &a, al);
  datagrams();
  errors();
  pipes_and_readiness();
  const char *names[] = {"stream", "seqpacket", "dgram-a", "regular"};
  for (int i = 0; i < 4; i++) {
    path_addr(&a, names[i]);
    unlink(a.sun_path);
  }
  printf("rmdir %s\n", err(rmdir(dir)));
  return 0;
}
