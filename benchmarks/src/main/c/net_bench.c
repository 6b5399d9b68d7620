/* The work benchmarks/run net measures, the same natively, under qemu-user and in the vkernel.
 * One process tree over 127.0.0.1 TCP: the parent listens on an ephemeral port and accepts, a
 * forked child connects; both sockets have TCP_NODELAY.
 *   net_bench pingpong ROUNDS   the client sends one byte, the server reads it and sends it
 *                               back, ROUNDS round trips (ROUNDS 0: set-up and tear-down only)
 *   net_bench bulk MIB          the client sends MIB MiB in 64 KiB writes and shuts down its
 *                               side; the server reads to end of file and acknowledges with
 *                               the byte count and a checksum, which the client compares
 * The parent prints one line (the same in every way of running, so the harness compares them)
 * once the child has exited with status 0. Compiled by benchmarks/run with gcc -static. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

static void die(const char *what) {
  fprintf(stderr, "net_bench: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void nodelay(int fd) {
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
    die("setsockopt TCP_NODELAY");
  }
}

static void write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      die("write");
    }
    p += n;
    len -= (size_t) n;
  }
}

/* Reads exactly len bytes; 0 at end of file before the first, 1 once read. */
static int read_all(int fd, void *buf, size_t len) {
  char *p = buf;
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, p + got, len - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      die("read");
    }
    if (n == 0) {
      if (got == 0) {
        return 0;
      }
      errno = EPIPE;
      die("read: end of file inside a message");
    }
    got += (size_t) n;
  }
  return 1;
}

/* FNV-1a over 64-bit words: the server's proof that every byte arrived in order. */
static uint64_t checksum(uint64_t h, const uint64_t *w, size_t words) {
  for (size_t i = 0; i < words; i++) {
    h = (h ^ w[i]) * 0x100000001b3ULL;
  }
  return h;
}

static void fill(uint64_t *w, size_t words, uint64_t seed) {
  uint64_t x = 88172645463325252ULL ^ seed;
  for (size_t i = 0; i < words; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    w[i] = x;
  }
}

static uint64_t buf[CHUNK / 8];

/* The client's half, in the child: returns its exit status. */
static int client(int port, int bulk, long count) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    die("socket");
  }
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(fd, (struct sockaddr *) &a, sizeof a) != 0) {
    die("connect");
  }
  nodelay(fd);
  if (!bulk) {
    char c = 0;
    for (long r = 0; r < count; r++) {
      char back;
      write_all(fd, &c, 1);
      if (!read_all(fd, &back, 1)) {
        errno = EPIPE;
        die("read: end of file in a round trip");
      }
      if (back != c) {
        fprintf(stderr, "net_bench: round %ld: sent %d, got %d back\n", r, c, back);
        return 1;
      }
      c++;
    }
    close(fd);
    return 0;
  }
  uint64_t sum = 0xcbf29ce484222325ULL;
  long chunks = count * (1024 * 1024 / CHUNK);
  for (long i = 0; i < chunks; i++) {
    buf[0] = (uint64_t) i; /* every chunk differs: a lost or repeated one changes the sum */
    sum = checksum(sum, buf, CHUNK / 8);
    write_all(fd, buf, CHUNK);
  }
  if (shutdown(fd, SHUT_WR) != 0) {
    die("shutdown");
  }
  uint64_t ack[2];
  if (!read_all(fd, ack, sizeof ack)) {
    errno = EPIPE;
    die("read: no acknowledgement");
  }
  if (ack[0] != (uint64_t) chunks * CHUNK || ack[1] != sum) {
    fprintf(stderr, "net_bench: the server acknowledged %llu bytes (sum %016llx), sent %llu (sum %016llx)\n",
        (unsigned long long) ack[0], (unsigned long long) ack[1], (unsigned long long) chunks * CHUNK,
        (unsigned long long) sum);
    return 1;
  }
  close(fd);
  return 0;
}

/* The server's half, in the parent, on the accepted connection: returns the checksum (bulk). */
static uint64_t server(int fd, int bulk) {
  if (!bulk) {
    char c;
    while (read_all(fd, &c, 1)) {
      write_all(fd, &c, 1);
    }
    return 0;
  }
  uint64_t sum = 0xcbf29ce484222325ULL;
  uint64_t total = 0;
  size_t have = 0; /* bytes of the current chunk in buf; checksummed a whole chunk at a time */
  for (;;) {
    ssize_t n = read(fd, (char *) buf + have, CHUNK - have);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      die("read");
    }
    if (n == 0) {
      break;
    }
    have += (size_t) n;
    total += (uint64_t) n;
    if (have == CHUNK) {
      sum = checksum(sum, buf, CHUNK / 8);
      have = 0;
    }
  }
  if (have != 0) {
    errno = EPIPE;
    die("read: end of file inside a chunk");
  }
  uint64_t ack[2] = {total, sum};
  write_all(fd, ack, sizeof ack);
  return sum;
}

int main(int argc, char **argv) {
  int bulk;
  if (argc == 3 && strcmp(argv[1], "pingpong") == 0) {
    bulk = 0;
  } else if (argc == 3 && strcmp(argv[1], "bulk") == 0) {
    bulk = 1;
  } else {
    fprintf(stderr, "usage: net_bench pingpong ROUNDS | bulk MIB\n");
    return 2;
  }
  long count = atol(argv[2]);
  if (count < 0) {
    return 2;
  }
  fill(buf, CHUNK / 8, 42);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) {
    die("socket");
  }
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  if (bind(lfd, (struct sockaddr *) &a, sizeof a) != 0 || listen(lfd, 1) != 0
      || getsockname(lfd, (struct sockaddr *) &a, &alen) != 0) {
    die("bind, listen or getsockname");
  }
  fflush(stdout);
  pid_t child = fork();
  if (child < 0) {
    die("fork");
  }
  if (child == 0) {
    close(lfd);
    _exit(client(ntohs(a.sin_port), bulk, count));
  }
  int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0) {
    die("accept4");
  }
  close(lfd);
  nodelay(fd);
  uint64_t sum = server(fd, bulk);
  int status;
  if (waitpid(child, &status, 0) != child) {
    die("waitpid");
  }
  close(fd);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "net_bench: the client ended with status %#x\n", status);
    return 1;
  }
  if (bulk) {
    printf("bulk %ld MiB in %d KiB writes: checksum %016llx\n", count, CHUNK / 1024, (unsigned long long) sum);
  } else {
    printf("pingpong %ld round trips of 1 byte\n", count);
  }
  return 0;
}
