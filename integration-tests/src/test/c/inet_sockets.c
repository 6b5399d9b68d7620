/* AF_INET and AF_INET6 sockets over loopback, as Linux has them: a TCP server and a forked
 * client over 127.0.0.1 and ::1 on ephemeral ports (bind to port 0, getsockname), accept4's
 * flags, getsockname/getpeername, shutdown and EOF, EPIPE, UDP with the sender's address,
 * MSG_PEEK and MSG_TRUNC, connected UDP, sendmmsg/recvmmsg, a non-blocking connect with poll
 * and SO_ERROR (to a listener and to a closed port), ECONNREFUSED, the usual socket options,
 * epoll readiness, a blocking accept ended by a signal (EINTR) and a blocking recv that a
 * SA_RESTART handler does not end, the errors of bad addresses, and SO_RCVTIMEO/SO_SNDTIMEO
 * bounding accept, recv, read, send, write and a UDP recvfrom. Prints one line per check
 * and never a port number or anything else that differs between runs: the vkernel's output
 * must equal the native one. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *err(long r) {
  if (r >= 0) return "ok";
  switch (errno) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EINPROGRESS: return "EINPROGRESS";
    case EISCONN: return "EISCONN";
    case ENOTCONN: return "ENOTCONN";
    case EPIPE: return "EPIPE";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case EINTR: return "EINTR";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    case ENETUNREACH: return "ENETUNREACH";
    case EACCES: return "EACCES";
    case EDOM: return "EDOM";
    default: return strerror(errno);
  }
}

/* An address of the family on loopback (or the wildcard) and port. */
static socklen_t addr_of(int family, int any, int port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(any ? INADDR_ANY : INADDR_LOOPBACK);
    return sizeof *a;
  }
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(port);
  a->sin6_addr = any ? in6addr_any : in6addr_loopback;
  return sizeof *a;
}

static int port_of(const struct sockaddr_storage *ss) {
  return ntohs(ss->ss_family == AF_INET ? ((struct sockaddr_in *)ss)->sin_port : ((struct sockaddr_in6 *)ss)->sin6_port);
}

static const char *host_of(const struct sockaddr_storage *ss) {
  static char buf[64];
  if (ss->ss_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *)ss)->sin_addr, buf, sizeof buf);
  else if (ss->ss_family == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ss)->sin6_addr, buf, sizeof buf);
  else snprintf(buf, sizeof buf, "family %d", ss->ss_family);
  return buf;
}

/* A listening TCP socket on loopback at an ephemeral port; its port in *port. */
static int tcp_server(int family, int *port) {
  int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_storage ss;
  socklen_t len = addr_of(family, 0, 0, &ss);
  if (bind(s, (struct sockaddr *)&ss, len) < 0 || listen(s, 8) < 0) {
    printf("server: %s\n", err(-1));
    exit(1);
  }
  len = sizeof ss;
  getsockname(s, (struct sockaddr *)&ss, &len);
  *port = port_of(&ss);
  return s;
}

static void tcp_client_server(int family) {
  const char *name = family == AF_INET ? "tcp4" : "tcp6";
  int port;
  int srv = tcp_server(family, &port);
  printf("%s: ephemeral port %s\n", name, port > 0 ? "given" : "missing");
  pid_t pid = fork();
  if (pid == 0) {
    int c = socket(family, SOCK_STREAM, 0);
    struct sockaddr_storage ss;
    socklen_t len = addr_of(family, 0, port, &ss);
    if (connect(c, (struct sockaddr *)&ss, len) < 0) {
      printf("%s client connect: %s\n", name, err(-1));
      _exit(1);
    }
    struct sockaddr_storage me;
    socklen_t mlen = sizeof me;
    getsockname(c, (struct sockaddr *)&me, &mlen);
    char msg[64];
    int n = snprintf(msg, sizeof msg, "ping from %d", port_of(&me));
    write(c, msg, n);
    shutdown(c, SHUT_WR);
    char buf[64];
    ssize_t got = recv(c, buf, sizeof buf, MSG_WAITALL);
    printf("%s client got %zd bytes: %.*s\n", name, got, (int)(got > 0 ? got : 0), buf);
    printf("%s client then: %zd\n", name, read(c, buf, sizeof buf));
    close(c);
    _exit(0);
  }
  struct sockaddr_storage peer;
  socklen_t plen = sizeof peer;
  int a = accept4(srv, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (a < 0 && errno != EAGAIN) {
    printf("%s accept4: %s\n", name, err(-1));
  }
  if (a < 0) {
    struct pollfd p = {srv, POLLIN, 0};
    printf("%s poll listener: %d\n", name, poll(&p, 1, 10000));
    plen = sizeof peer;
    a = accept4(srv, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC | SOCK_NONBLOCK);
  }
  printf("%s accept4: %s, peer %s, len %s, cloexec %d, nonblock %d\n", name, err(a), host_of(&peer),
         plen == (family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) ? "right" : "wrong",
         (fcntl(a, F_GETFD) & FD_CLOEXEC) != 0, (fcntl(a, F_GETFL) & O_NONBLOCK) != 0);
  struct sockaddr_storage gp, gs;
  socklen_t gpl = sizeof gp, gsl = sizeof gs;
  getpeername(a, (struct sockaddr *)&gp, &gpl);
  getsockname(a, (struct sockaddr *)&gs, &gsl);
  printf("%s getpeername %s, same port as accept: %d; getsockname %s, server's port: %d\n", name, host_of(&gp),
         port_of(&gp) == port_of(&peer), host_of(&gs), port_of(&gs) == port);
  char buf[64];
  size_t have = 0;
  for (;;) {
    ssize_t n = read(a, buf + have, sizeof buf - 1 - have);
    if (n > 0) { have += n; continue; }
    if (n == 0) break;
    if (errno == EAGAIN) {
      struct pollfd p = {a, POLLIN, 0};
      poll(&p, 1, 10000);
      continue;
    }
    printf("%s read: %s\n", name, err(-1));
    break;
  }
  buf[have] = 0;
  int from = 0;
  sscanf(buf, "ping from %d", &from);
  printf("%s server read to EOF: %.9s, sender's own port is the peer's: %d\n", name, buf, from == port_of(&peer));
  int flags = fcntl(a, F_GETFL);
  fcntl(a, F_SETFL, flags & ~O_NONBLOCK);
  printf("%s send pong: %zd\n", name, send(a, "pong", 4, 0));
  close(a);
  int st;
  waitpid(pid, &st, 0);
  printf("%s client status %d\n", name, WEXITSTATUS(st));
  close(srv);
}

static void udp(void) {
  int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  struct sockaddr_storage sa, sb, from;
  socklen_t la = addr_of(AF_INET, 0, 0, &sa), lb = addr_of(AF_INET, 0, 0, &sb);
  bind(a, (struct sockaddr *)&sa, la);
  bind(b, (struct sockaddr *)&sb, lb);
  la = sizeof sa;
  lb = sizeof sb;
  getsockname(a, (struct sockaddr *)&sa, &la);
  getsockname(b, (struct sockaddr *)&sb, &lb);
  char buf[64];
  printf("udp recv empty: %s\n", err(recv(b, buf, sizeof buf, 0)));
  printf("udp sendto: %zd\n", sendto(a, "hello udp", 9, 0, (struct sockaddr *)&sb, lb));
  printf("udp sendto no address: %s\n", err(sendto(a, "x", 1, 0, NULL, 0)));
  ssize_t n = recv(b, buf, 4, MSG_PEEK | MSG_TRUNC);
  printf("udp peek+trunc: %zd %.4s\n", n, buf);
  socklen_t fl = sizeof from;
  n = recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
  printf("udp recvfrom: %zd %.*s from %s, the sender's port: %d\n", n, (int)n, buf, host_of(&from), port_of(&from) == port_of(&sa));
  printf("udp connect: %s\n", err(connect(a, (struct sockaddr *)&sb, lb)));
  struct sockaddr_storage gp;
  socklen_t gpl = sizeof gp;
  getpeername(a, (struct sockaddr *)&gp, &gpl);
  printf("udp getpeername: %s, right port: %d\n", host_of(&gp), port_of(&gp) == port_of(&sb));
  printf("udp send connected: %zd\n", send(a, "abc", 3, 0));
  struct msghdr mh;
  struct iovec iov[2];
  char p1[2], p2[8];
  memset(&mh, 0, sizeof mh);
  iov[0].iov_base = p1; iov[0].iov_len = sizeof p1;
  iov[1].iov_base = p2; iov[1].iov_len = sizeof p2;
  mh.msg_iov = iov; mh.msg_iovlen = 2;
  mh.msg_name = &from; mh.msg_namelen = sizeof from;
  n = recvmsg(b, &mh, 0);
  printf("udp recvmsg: %zd %.2s|%.1s namelen %s flags %d\n", n, p1, p2, mh.msg_namelen == sizeof(struct sockaddr_in) ? "right" : "wrong", mh.msg_flags);
  /* sendmmsg/recvmmsg: three datagrams in one call each way. */
  struct mmsghdr msgs[4];
  struct iovec siov[3];
  const char *words[3] = {"one", "three", "fifteen"};
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < 3; i++) {
    siov[i].iov_base = (void *)words[i];
    siov[i].iov_len = strlen(words[i]);
    msgs[i].msg_hdr.msg_iov = &siov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  int sent = sendmmsg(a, msgs, 3, 0);
  printf("sendmmsg: %d, lengths %u %u %u\n", sent, msgs[0].msg_len, msgs[1].msg_len, msgs[2].msg_len);
  char rb[4][16];
  struct iovec riov[4];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < 4; i++) {
    riov[i].iov_base = rb[i];
    riov[i].iov_len = sizeof rb[i];
    msgs[i].msg_hdr.msg_iov = &riov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  int got = recvmmsg(b, msgs, 4, MSG_WAITFORONE, NULL);
  printf("recvmmsg: %d:", got);
  for (int i = 0; i < got; i++) printf(" %.*s", (int)msgs[i].msg_len, rb[i]);
  printf("\n");
  printf("recvmmsg empty: %s\n", err(recvmmsg(b, msgs, 4, MSG_DONTWAIT, NULL)));
  struct timespec bad = {0, 1000000000L};
  printf("recvmmsg bad timeout: %s\n", err(recvmmsg(b, msgs, 4, 0, &bad)));
  close(a);
  close(b);
}

static void nonblocking_connect(void) {
  int port;
  int srv = tcp_server(AF_INET, &port);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_storage ss;
  socklen_t len = addr_of(AF_INET, 0, port, &ss);
  int r = connect(c, (struct sockaddr *)&ss, len);
  printf("nonblocking connect: %s\n", r == 0 || errno == EINPROGRESS ? "0 or EINPROGRESS" : err(r));
  struct pollfd p = {c, POLLOUT, 0};
  int ready = poll(&p, 1, 10000);
  printf("poll POLLOUT: %d revents %#x\n", ready, p.revents);
  int e = -1;
  socklen_t el = sizeof e;
  getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &el);
  printf("SO_ERROR: %d\n", e);
  printf("connect again: %s\n", err(connect(c, (struct sockaddr *)&ss, len)));
  printf("connect a third time: %s\n", err(connect(c, (struct sockaddr *)&ss, len)));
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7};
  epoll_ctl(epfd, EPOLL_CTL_ADD, srv, &ev);
  struct epoll_event out;
  int n = epoll_wait(epfd, &out, 1, 10000);
  printf("epoll listener: %d data %u events %#x\n", n, out.data.u32, out.events);
  int a = accept(srv, NULL, NULL);
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.u32 = 8;
  epoll_ctl(epfd, EPOLL_CTL_ADD, a, &ev);
  printf("epoll nothing yet: %d\n", epoll_wait(epfd, &out, 1, 0));
  write(c, "x", 1);
  n = epoll_wait(epfd, &out, 1, 10000);
  printf("epoll data: %d data %u events %#x\n", n, out.data.u32, out.events);
  char buf[4];
  read(a, buf, 1);
  close(c);
  n = epoll_wait(epfd, &out, 1, 10000);
  printf("epoll peer closed: %d data %u events %#x\n", n, out.data.u32, out.events);
  printf("read EOF: %zd\n", read(a, buf, sizeof buf));
  close(epfd);
  close(a);
  /* The listener is gone: a non-blocking connect is refused by SO_ERROR, a blocking one at once. */
  close(srv);
  c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  r = connect(c, (struct sockaddr *)&ss, len);
  if (r < 0 && errno == EINPROGRESS) {
    struct pollfd q = {c, POLLOUT, 0};
    poll(&q, 1, 10000);
    el = sizeof e;
    getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &el);
    errno = e;
    r = e ? -1 : 0;
  }
  printf("nonblocking connect to a closed port: %s\n", err(r));
  close(c);
  c = socket(AF_INET, SOCK_STREAM, 0);
  printf("blocking connect to a closed port: %s\n", err(connect(c, (struct sockaddr *)&ss, len)));
  close(c);
}

/* An int option's value, or minus the errno. */
static int get(int s, int level, int opt) {
  int v = -1;
  socklen_t l = sizeof v;
  return getsockopt(s, level, opt, &v, &l) < 0 ? -errno : v;
}

static void options(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int v, one = 1;
  socklen_t l;
  printf("SO_TYPE %d SO_DOMAIN %d SO_PROTOCOL %d SO_ACCEPTCONN %d\n", get(s, SOL_SOCKET, SO_TYPE), get(s, SOL_SOCKET, SO_DOMAIN),
         get(s, SOL_SOCKET, SO_PROTOCOL), get(s, SOL_SOCKET, SO_ACCEPTCONN));
  printf("SO_REUSEADDR %d", get(s, SOL_SOCKET, SO_REUSEADDR));
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  printf(" -> %d\n", get(s, SOL_SOCKET, SO_REUSEADDR));
  setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  printf("SO_REUSEPORT %d SO_KEEPALIVE %d TCP_NODELAY %d\n", get(s, SOL_SOCKET, SO_REUSEPORT), get(s, SOL_SOCKET, SO_KEEPALIVE),
         get(s, IPPROTO_TCP, TCP_NODELAY));
  int idle = 30, intvl = 5, cnt = 3, ttl = 33;
  setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(s, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
  setsockopt(s, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
  setsockopt(s, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
  printf("TCP_KEEPIDLE %d TCP_KEEPINTVL %d TCP_KEEPCNT %d IP_TTL %d\n", get(s, IPPROTO_TCP, TCP_KEEPIDLE),
         get(s, IPPROTO_TCP, TCP_KEEPINTVL), get(s, IPPROTO_TCP, TCP_KEEPCNT), get(s, IPPROTO_IP, IP_TTL));
  int sz = 65536;
  setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  printf("SO_SNDBUF %d SO_RCVBUF %d\n", get(s, SOL_SOCKET, SO_SNDBUF), get(s, SOL_SOCKET, SO_RCVBUF));
  struct linger lg = {1, 0}, lo = {7, 7};
  printf("SO_LINGER set: %s", err(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg)));
  l = sizeof lo;
  getsockopt(s, SOL_SOCKET, SO_LINGER, &lo, &l);
  printf(", get: %d %d len %u\n", lo.l_onoff, lo.l_linger, l);
  printf("short value: %s\n", err(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, 2)));
  printf("unknown option: %s\n", err(setsockopt(s, SOL_SOCKET, 9999, &one, sizeof one)));
  printf("unknown level: %s\n", err(setsockopt(s, 9999, 1, &one, sizeof one)));
  l = 2;
  v = 0;
  getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l);
  printf("short getsockopt: %d len %u\n", v, l);
  printf("SO_ERROR %d\n", get(s, SOL_SOCKET, SO_ERROR));
  printf("shutdown unconnected: %s\n", err(shutdown(s, SHUT_RDWR)));
  printf("shutdown bad how: %s\n", err(shutdown(s, 7)));
  close(s);
  s = socket(AF_INET6, SOCK_STREAM, 0);
  printf("IPV6_V6ONLY %d", get(s, IPPROTO_IPV6, IPV6_V6ONLY));
  setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  printf(" -> %d\n", get(s, IPPROTO_IPV6, IPV6_V6ONLY));
  close(s);
}

static void addresses(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_storage ss;
  socklen_t len = addr_of(AF_INET, 1, 0, &ss);
  printf("bind short: %s\n", err(bind(s, (struct sockaddr *)&ss, 8)));
  printf("bind too long: %s\n", err(bind(s, (struct sockaddr *)&ss, sizeof ss + 1)));
  ss.ss_family = AF_INET6;
  printf("bind AF_INET6 address: %s\n", err(bind(s, (struct sockaddr *)&ss, len)));
  len = addr_of(AF_INET, 1, 0, &ss);
  printf("bind wildcard: %s", err(bind(s, (struct sockaddr *)&ss, len)));
  len = sizeof ss;
  getsockname(s, (struct sockaddr *)&ss, &len);
  printf(", named %s, port given: %d\n", host_of(&ss), port_of(&ss) > 0);
  printf("bind again: %s\n", err(bind(s, (struct sockaddr *)&ss, len)));
  int t = socket(AF_INET, SOCK_STREAM, 0);
  printf("bind a taken port: %s\n", err(bind(t, (struct sockaddr *)&ss, len)));
  struct sockaddr_in tiny;
  socklen_t tl = 4;
  getsockname(s, (struct sockaddr *)&tiny, &tl);
  printf("getsockname into 4 bytes: len %u family %d\n", tl, tiny.sin_family);
  printf("getpeername unconnected: %s\n", err(getpeername(s, (struct sockaddr *)&ss, &len)));
  printf("accept not listening: %s\n", err(accept(s, NULL, NULL)));
  printf("accept4 bad flags: %s\n", err(accept4(s, NULL, NULL, 1)));
  close(t);
  close(s);
  s = socket(AF_INET6, SOCK_DGRAM, 0);
  len = addr_of(AF_INET6, 1, 0, &ss);
  bind(s, (struct sockaddr *)&ss, len);
  len = sizeof ss;
  getsockname(s, (struct sockaddr *)&ss, &len);
  printf("v6 wildcard named %s, port given: %d\n", host_of(&ss), port_of(&ss) > 0);
  close(s);
  int sv[2];
  printf("socketpair AF_INET: %s\n", err(socketpair(AF_INET, SOCK_STREAM, 0, sv)));
  printf("socket AF_INET SOCK_SEQPACKET: %s\n", err(socket(AF_INET, SOCK_SEQPACKET, 0)));
  printf("socket AF_INET stream with UDP: %s\n", err(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP)));
}

static void epipe(void) {
  int port;
  int srv = tcp_server(AF_INET, &port);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_storage ss;
  socklen_t len = addr_of(AF_INET, 0, port, &ss);
  connect(c, (struct sockaddr *)&ss, len);
  int a = accept(srv, NULL, NULL);
  close(a);
  char buf[4];
  printf("read after peer close: %zd\n", read(c, buf, sizeof buf));
  ssize_t r = 0;
  for (int i = 0; i < 5 && r >= 0; i++) {
    r = send(c, "data", 4, MSG_NOSIGNAL);
    usleep(10000);
  }
  printf("send after peer close: %s\n", err(r));
  close(c);
  close(srv);
}

static int caught;
static int wake[2] = {-1, -1};
/* Counts the signal and, once the pipe is there, tells the child to connect: after the handler. */
static void on_alarm(int sig) {
  (void)sig;
  caught++;
  if (wake[1] >= 0) write(wake[1], "x", 1);
}

static void signals(void) {
  int port;
  int srv = tcp_server(AF_INET, &port);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  /* Every 50 ms until the accept has been interrupted, however long it takes to get there. */
  struct itimerval every = {{0, 50000}, {0, 50000}}, off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &every, NULL);
  int r = accept(srv, NULL, NULL);
  setitimer(ITIMER_REAL, &off, NULL);
  printf("blocking accept, signal without SA_RESTART: %s, caught: %d\n", err(r), caught > 0);
  struct itimerval it = {{0, 0}, {0, 50000}};
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  pipe(wake);
  pid_t pid = fork();
  if (pid == 0) {
    char x;
    read(wake[0], &x, 1);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_storage ss;
    socklen_t len = addr_of(AF_INET, 0, port, &ss);
    connect(c, (struct sockaddr *)&ss, len);
    write(c, "late", 4);
    close(c);
    _exit(0);
  }
  caught = 0;
  setitimer(ITIMER_REAL, &it, NULL);
  int a = accept(srv, NULL, NULL);
  char buf[8];
  ssize_t n = recv(a, buf, sizeof buf, MSG_WAITALL);
  printf("blocking accept and recv, SA_RESTART handler: %s, %zd %.4s, caught %d\n", err(a), n, buf, caught);
  waitpid(pid, NULL, 0);
  close(a);
  close(srv);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Whether a call that failed took the 100 ms timeout (and not ten seconds more). */
static const char *timed(double t0) {
  double dt = now() - t0;
  return dt >= 0.09 && dt < 10 ? "after the timeout" : "not after the timeout";
}

/* SO_RCVTIMEO and SO_SNDTIMEO on TCP and UDP: kept as Linux rounds them, and bounding accept,
 * recv, read, send and write with EAGAIN. */
static void timeouts(void) {
  int port;
  int srv = tcp_server(AF_INET, &port);
  struct timeval tv = { 0, 100000 }, got;
  socklen_t len = sizeof got;
  printf("tcp SO_RCVTIMEO set: %s\n", err(setsockopt(srv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv)));
  const char *e = err(getsockopt(srv, SOL_SOCKET, SO_RCVTIMEO, &got, &len));
  printf("tcp SO_RCVTIMEO get: %s %ld.%06ld len %u\n", e, (long)got.tv_sec, (long)got.tv_usec, len);
  struct timeval odd = { 0, 1 };
  setsockopt(srv, SOL_SOCKET, SO_SNDTIMEO, &odd, sizeof odd);
  len = sizeof got;
  getsockopt(srv, SOL_SOCKET, SO_SNDTIMEO, &got, &len);
  printf("tcp SO_SNDTIMEO of 1 us reads back: %ld.%06ld\n", (long)got.tv_sec, (long)got.tv_usec);
  struct timeval bad = { 0, 1000000 };
  printf("tcp SO_RCVTIMEO with tv_usec 1000000: %s\n", err(setsockopt(srv, SOL_SOCKET, SO_RCVTIMEO, &bad, sizeof bad)));
  double t0 = now();
  long r = accept(srv, NULL, NULL);
  printf("accept: %s %s\n", err(r), timed(t0));

  int c = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_storage ss;
  socklen_t alen = addr_of(AF_INET, 0, port, &ss);
  if (connect(c, (struct sockaddr *)&ss, alen) < 0) { printf("connect: %s\n", err(-1)); exit(1); }
  int a = accept(srv, NULL, NULL);
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[64];
  t0 = now();
  r = recv(c, buf, sizeof buf, 0);
  printf("recv: %s %s\n", err(r), timed(t0));
  t0 = now();
  r = read(c, buf, sizeof buf);
  printf("read: %s %s\n", err(r), timed(t0));
  write(a, "late", 4);
  printf("recv after data came: %ld\n", (long)recv(c, buf, sizeof buf, 0));

  /* Fill the connection (the peer reads nothing), then a blocking send times out. */
  int fl = fcntl(c, F_GETFL);
  fcntl(c, F_SETFL, fl | O_NONBLOCK);
  static char block[65536];
  long sent = 0;
  while ((r = send(c, block, sizeof block, 0)) > 0) sent += r;
  int full = r < 0 && errno == EAGAIN;
  fcntl(c, F_SETFL, fl);
  printf("filled: %s\n", sent > 0 && full ? "yes" : "no");
  setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  /* Ended by the timeout: EAGAIN if nothing went, else a short count (the host may have made
   * room meanwhile; a megabyte never fits). */
  static char big[1 << 20];
  t0 = now();
  r = send(c, big, sizeof big, 0);
  printf("send ended by the timeout: %s\n", (r < 0 && errno == EAGAIN && now() - t0 >= 0.09) || (r > 0 && r < (long)sizeof big) ? "yes" : err(r));
  t0 = now();
  r = write(c, big, sizeof big);
  printf("write ended by the timeout: %s\n", (r < 0 && errno == EAGAIN && now() - t0 >= 0.09) || (r > 0 && r < (long)sizeof big) ? "yes" : err(r));
  close(a);
  close(c);
  close(srv);

  int u = socket(AF_INET6, SOCK_DGRAM, 0);
  addr_of(AF_INET6, 0, 0, &ss);
  bind(u, (struct sockaddr *)&ss, sizeof(struct sockaddr_in6));
  setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  t0 = now();
  r = recvfrom(u, buf, sizeof buf, 0, NULL, NULL);
  printf("udp recvfrom: %s %s\n", err(r), timed(t0));
  close(u);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tcp_client_server(AF_INET);
  tcp_client_server(AF_INET6);
  udp();
  nonblocking_connect();
  options();
  addresses();
  epipe();
  signals();
  timeouts();
  return 0;
}
