/* System V IPC between processes, as Linux has it: message queues (types, MSG_EXCEPT,
 * MSG_NOERROR, E2BIG, ENOMSG, a full queue, blocking receivers and senders woken by the other
 * side, EINTR even with SA_RESTART, EIDRM for a waiter when the queue goes), semaphore sets
 * (SETALL/GETALL, IPC_NOWAIT, semtimedop's timeout, GETNCNT, SEM_UNDO undone when a child
 * exits, clamped at 0, EINTR, EIDRM) and shared memory segments (shared across fork and by key,
 * nattch, IPC_RMID destroying the segment after the last detach, SHM_RDONLY), with the errnos
 * of the usual mistakes; and POSIX shm_open and sem_open between two processes, through /dev/shm. Prints one line per check; the vkernel's output must equal the native
 * one. Keys are made from the pid, so that runs on one machine do not meet. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <semaphore.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest.h"

union semun {
  int val;
  struct semid_ds *buf;
  unsigned short *array;
};

struct msg {
  long type;
  char text[64];
};

static pid_t child(void) {
  fflush(stdout);
  pid_t p = fork();
  if (p < 0) {
    perror("fork");
    exit(2);
  }
  return p;
}

static void on_usr1(int sig) { (void)sig; }

/* SIGUSR1 with SA_RESTART: the IPC calls fail with EINTR all the same. */
static void catch_usr1(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
}

static long send(int q, long type, const char *text) {
  struct msg m;
  m.type = type;
  strcpy(m.text, text);
  return msgsnd(q, &m, strlen(text), IPC_NOWAIT);
}

/* Receives into a line of text (printed by the caller when no other process may print). */
static void receive_line(char *line, size_t size_of_line, const char *what, int q, size_t size, long type, int flags) {
  struct msg m;
  memset(&m, 0, sizeof m);
  long n = msgrcv(q, &m, size, type, flags);
  if (n < 0) {
    snprintf(line, size_of_line, "%s: %s", what, err(n));
  } else {
    snprintf(line, size_of_line, "%s: type %ld, %ld bytes \"%.*s\"", what, m.type, n, (int)n, m.text);
  }
}

static void receive(const char *what, int q, size_t size, long type, int flags) {
  char line[160];
  receive_line(line, sizeof line, what, q, size, type, flags);
  printf("%s\n", line);
}

static void messages(key_t key) {
  printf("msgget absent: %s\n", err(msgget(key, 0600)));
  int q = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
  printf("msgget create: %s\n", err(q));
  printf("msgget exclusive again: %s\n", err(msgget(key, IPC_CREAT | IPC_EXCL | 0600)));
  printf("msgget same id: %d\n", msgget(key, 0) == q);
  int private = msgget(IPC_PRIVATE, 0600);
  printf("msgget private is new: %d\n", private >= 0 && private != q);
  send(q, 1, "one");
  send(q, 2, "two");
  send(q, 3, "three");
  send(q, 1, "uno");
  struct msqid_ds ds;
  const char *r = err(msgctl(q, IPC_STAT, &ds));
  printf("IPC_STAT: %s, %lu messages, %lu bytes, mode %o, last sender is me %d\n", r,
         (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes, ds.msg_perm.mode & 0777,
         ds.msg_lspid == getpid());
  receive("type 2", q, 64, 2, 0);
  receive("type -3 (lowest first)", q, 64, -3, 0);
  receive("not type 1", q, 64, 1, MSG_EXCEPT);
  receive("2 bytes of a longer one", q, 2, 0, 0);
  receive("2 bytes, MSG_NOERROR", q, 2, 0, MSG_NOERROR);
  receive("empty, IPC_NOWAIT", q, 64, 0, IPC_NOWAIT);
  struct msg m = {0, "x"};
  printf("msgsnd type 0: %s\n", err(msgsnd(q, &m, 1, 0)));
  m.type = 1;
  printf("msgsnd over MSGMAX: %s\n", err(msgsnd(q, &m, 8193, 0)));
  printf("msgrcv negative size: %s\n", err(msgrcv(q, &m, (size_t)-1, 0, 0)));

  /* A receiver waiting for type 7 is woken by it, not by another type. */
  pid_t p = child();
  if (p == 0) {
    receive("child waited for type 7", q, 64, 7, 0);
    _exit(0);
  }
  wait_until_sleeping(p);
  send(q, 5, "five");
  send(q, 7, "seven");
  reap(p);
  receive("type 5 left", q, 64, 0, IPC_NOWAIT);

  /* A full queue: a sender waits until a receiver makes room. */
  ds.msg_qbytes = 16;
  printf("IPC_SET qbytes 16: %s\n", err(msgctl(q, IPC_SET, &ds)));
  printf("send 10 bytes: %s\n", err(send(q, 1, "0123456789")));
  printf("send 10 more, IPC_NOWAIT: %s\n", err(send(q, 1, "abcdefghij")));
  p = child();
  if (p == 0) {
    struct msg w = {2, "abcdefghij"};
    printf("child's blocking send: %s\n", err(msgsnd(q, &w, 10, 0)));
    _exit(0);
  }
  wait_until_sleeping(p);
  char line[160];
  receive_line(line, sizeof line, "made room", q, 64, 0, 0);
  reap(p);
  printf("%s\n", line);
  receive("the child's message", q, 64, 0, IPC_NOWAIT);

  /* A signal ends a wait with EINTR, even with SA_RESTART. */
  p = child();
  if (p == 0) {
    catch_usr1();
    receive("child interrupted", q, 64, 9, 0);
    _exit(0);
  }
  wait_until_sleeping(p);
  kill(p, SIGUSR1);
  reap(p);

  /* Removing the queue wakes its waiters with EIDRM. */
  p = child();
  if (p == 0) {
    receive("child's queue removed", q, 64, 9, 0);
    _exit(0);
  }
  wait_until_sleeping(p);
  const char *removed = err(msgctl(q, IPC_RMID, NULL));
  reap(p);
  printf("IPC_RMID: %s\n", removed);
  printf("msgsnd after IPC_RMID: %s\n", err(send(q, 1, "late")));
  printf("msgget after IPC_RMID: %s\n", err(msgget(key, 0)));
  printf("IPC_RMID again: %s\n", err(msgctl(q, IPC_RMID, NULL)));
  printf("msgctl bad command: %s\n", err(msgctl(private, 99, &ds)));
  msgctl(private, IPC_RMID, NULL);
}

static void print_values(const char *what, int s) {
  unsigned short v[3];
  union semun arg = {.array = v};
  long r = semctl(s, 0, GETALL, arg);
  printf("%s: %s %u %u %u\n", what, err(r), v[0], v[1], v[2]);
}

static long op(int s, int num, int delta, int flags) {
  struct sembuf b = {(unsigned short)num, (short)delta, (short)flags};
  return semop(s, &b, 1);
}

static void semaphores(key_t key) {
  printf("semget absent: %s\n", err(semget(key, 3, 0600)));
  printf("semget 0 semaphores: %s\n", err(semget(IPC_PRIVATE, 0, 0600)));
  printf("semget over SEMMSL: %s\n", err(semget(IPC_PRIVATE, 1 << 20, 0600)));
  int s = semget(key, 3, IPC_CREAT | IPC_EXCL | 0600);
  printf("semget create: %s\n", err(s));
  printf("semget exclusive again: %s\n", err(semget(key, 3, IPC_CREAT | IPC_EXCL | 0600)));
  printf("semget more than it has: %s\n", err(semget(key, 4, 0)));
  printf("semget same id: %d\n", semget(key, 2, 0) == s);
  unsigned short init[3] = {1, 0, 5};
  union semun arg = {.array = init};
  printf("SETALL: %s\n", err(semctl(s, 0, SETALL, arg)));
  print_values("GETALL", s);
  printf("take sem 0: %s\n", err(op(s, 0, -1, IPC_NOWAIT)));
  printf("take sem 0 again, IPC_NOWAIT: %s\n", err(op(s, 0, -1, IPC_NOWAIT)));
  printf("wait for zero on sem 2, IPC_NOWAIT: %s\n", err(op(s, 2, 0, IPC_NOWAIT)));
  printf("sem 3 of 3: %s\n", err(op(s, 3, 1, 0)));
  printf("past SEMVMX: %s\n", err(op(s, 2, 32767, 0)));
  printf("semop no operations: %s\n", err(semop(s, NULL, 0)));
  arg.val = 40000;
  printf("SETVAL 40000: %s\n", err(semctl(s, 0, SETVAL, arg)));
  printf("GETVAL sem 3: %s\n", err(semctl(s, 3, GETVAL)));
  /* Atomic: the second operation blocks, so the first is not made either. */
  struct sembuf two[2] = {{2, -1, 0}, {0, -1, IPC_NOWAIT}};
  printf("two operations, one would block: %s\n", err(semop(s, two, 2)));
  print_values("unchanged", s);
  struct timespec t = {0, 50 * 1000 * 1000};
  struct sembuf b = {1, -1, 0};
  printf("semtimedop 50 ms: %s\n", err(semtimedop(s, &b, 1, &t)));
  t.tv_nsec = 1000000000;
  printf("semtimedop bad timeout: %s\n", err(semtimedop(s, &b, 1, &t)));

  /* A waiter is counted by GETNCNT and woken by an increase. */
  pid_t p = child();
  if (p == 0) {
    printf("child took sem 1: %s\n", err(op(s, 1, -1, 0)));
    _exit(0);
  }
  wait_until_sleeping(p);
  printf("GETNCNT sem 1: %d\n", semctl(s, 1, GETNCNT));
  printf("GETZCNT sem 1: %d\n", semctl(s, 1, GETZCNT));
  const char *given = err(op(s, 1, 1, 0));
  reap(p);
  printf("give sem 1: %s\n", given);

  /* SEM_UNDO: a child's adjustment is undone when it exits. */
  p = child();
  if (p == 0) {
    printf("child adds 3 to sem 0 with SEM_UNDO: %s\n", err(op(s, 0, 3, SEM_UNDO)));
    printf("child sees sem 0 = %d\n", semctl(s, 0, GETVAL));
    _exit(0);
  }
  reap(p);
  printf("after the child's exit, sem 0 = %d\n", semctl(s, 0, GETVAL));
  printf("last changed by the child: %d\n", semctl(s, 0, GETPID) == p);
  /* ... and clamped at 0 when others took what it had added. */
  int go[2], ready[2];
  if (pipe(go) != 0 || pipe(ready) != 0) return;
  p = child();
  if (p == 0) {
    char c = 0;
    printf("child adds 2 to sem 1 with SEM_UNDO: %s\n", err(op(s, 1, 2, SEM_UNDO)));
    fflush(stdout);
    if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) _exit(1);
    _exit(0);
  }
  char c;
  if (read(ready[0], &c, 1) != 1) return;
  printf("parent takes 2 of sem 1: %s\n", err(op(s, 1, -2, IPC_NOWAIT)));
  if (write(go[1], &c, 1) != 1) return;
  reap(p);
  printf("after the child's exit, sem 1 = %d\n", semctl(s, 1, GETVAL));
  arg.val = 7;
  printf("SETVAL sem 2 = 7: %s\n", err(semctl(s, 2, SETVAL, arg)));
  printf("GETVAL sem 2: %d\n", semctl(s, 2, GETVAL));

  /* A signal ends a wait with EINTR, even with SA_RESTART. */
  p = child();
  if (p == 0) {
    catch_usr1();
    printf("child interrupted: %s\n", err(op(s, 0, -1, 0)));
    _exit(0);
  }
  wait_until_sleeping(p);
  kill(p, SIGUSR1);
  reap(p);

  struct semid_ds ds;
  arg.buf = &ds;
  const char *r = err(semctl(s, 0, IPC_STAT, arg));
  printf("IPC_STAT: %s, %lu semaphores, mode %o\n", r, (unsigned long)ds.sem_nsems,
         ds.sem_perm.mode & 0777);
  ds.sem_perm.mode = 0640;
  printf("IPC_SET mode 0640: %s\n", err(semctl(s, 0, IPC_SET, arg)));
  semctl(s, 0, IPC_STAT, arg);
  printf("mode now %o\n", ds.sem_perm.mode & 0777);

  /* Removing the set wakes its waiters with EIDRM. */
  p = child();
  if (p == 0) {
    printf("child's set removed: %s\n", err(op(s, 0, -1, 0)));
    _exit(0);
  }
  wait_until_sleeping(p);
  const char *removed = err(semctl(s, 0, IPC_RMID));
  reap(p);
  printf("IPC_RMID: %s\n", removed);
  printf("semop after IPC_RMID: %s\n", err(op(s, 0, 1, 0)));
  printf("semget after IPC_RMID: %s\n", err(semget(key, 3, 0)));
}

static void shared_memory(key_t key) {
  printf("shmget absent: %s\n", err(shmget(key, 4096, 0600)));
  printf("shmget size 0: %s\n", err(shmget(IPC_PRIVATE, 0, 0600)));
  int k = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
  printf("shmget create: %s\n", err(k));
  printf("shmget exclusive again: %s\n", err(shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600)));
  printf("shmget larger than it is: %s\n", err(shmget(key, 8192, 0)));
  printf("shmget same id: %d\n", shmget(key, 100, 0) == k);
  int id = shmget(IPC_PRIVATE, 10000, 0600);
  printf("shmget private: %s\n", err(id));
  char *a = shmat(id, NULL, 0);
  printf("shmat: %s\n", err(a == (void *)-1 ? -1 : 0));
  printf("zero-filled: %d\n", a[0] == 0 && a[9999] == 0);
  struct shmid_ds ds;
  shmctl(id, IPC_STAT, &ds);
  printf("IPC_STAT: size %lu, %lu attached, mode %o, creator is me %d\n", (unsigned long)ds.shm_segsz,
         (unsigned long)ds.shm_nattch, ds.shm_perm.mode & 0777, ds.shm_cpid == getpid());
  strcpy(a + 5000, "before the fork");

  /* The parent and the child see each other's writes. */
  int go[2], ready[2];
  if (pipe(go) != 0 || pipe(ready) != 0) return;
  pid_t p = child();
  if (p == 0) {
    char c = 0;
    struct shmid_ds cds;
    shmctl(id, IPC_STAT, &cds);
    printf("child sees \"%s\", %lu attached\n", a + 5000, (unsigned long)cds.shm_nattch);
    strcpy(a, "written by the child");
    if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) _exit(1);
    printf("child sees \"%s\"\n", a + 8000);
    _exit(0);
  }
  char c;
  if (read(ready[0], &c, 1) != 1) return;
  printf("parent sees \"%s\"\n", a);
  strcpy(a + 8000, "written by the parent after the fork");
  if (write(go[1], &c, 1) != 1) return;
  reap(p);
  shmctl(id, IPC_STAT, &ds);
  printf("after the child's exit: %lu attached\n", (unsigned long)ds.shm_nattch);

  /* A process attaching by key (not a copy of an attach) shares the memory too. */
  char *ka = shmat(k, NULL, 0);
  strcpy(ka, "keyed");
  p = child();
  if (p == 0) {
    shmdt(ka);
    char *mine = shmat(shmget(key, 0, 0), NULL, 0);
    printf("child attached by key sees \"%s\"\n", mine);
    strcpy(mine, "changed by key");
    _exit(0);
  }
  reap(p);
  printf("parent sees \"%s\"\n", ka);
  printf("shmdt of the keyed one: %s\n", err(shmdt(ka)));

  /* A second attach in one process is the same memory. */
  char *b = shmat(id, NULL, SHM_RDONLY);
  printf("second attach sees \"%s\", at another address %d\n", b, a != b);
  shmctl(id, IPC_STAT, &ds);
  printf("%lu attached\n", (unsigned long)ds.shm_nattch);
  p = child();
  if (p == 0) {
    b[0] = 'X'; /* SHM_RDONLY: SIGSEGV */
    _exit(0);
  }
  printf("writing a SHM_RDONLY attach: status %d\n", reap(p));
  printf("shmdt: %s\n", err(shmdt(b)));
  printf("shmdt again: %s\n", err(shmdt(b)));
  printf("shmdt inside: %s\n", err(shmdt(a + 4096)));
  printf("shmat unaligned: %s\n", err(shmat(id, a + 1, 0) == (void *)-1 ? -1 : 0));
  printf("shmat over a mapping: %s\n", err(shmat(id, a, 0) == (void *)-1 ? -1 : 0));
  printf("shmat bad id: %s\n", err(shmat(-1, NULL, 0) == (void *)-1 ? -1 : 0));

  /* IPC_RMID while attached: the key goes, the memory stays until the last detach. */
  printf("IPC_RMID keyed unattached: %s\n", err(shmctl(k, IPC_RMID, NULL)));
  printf("IPC_STAT after it: %s\n", err(shmctl(k, IPC_STAT, &ds)));
  int again = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
  printf("key free again: %s\n", err(again));
  char *d = shmat(again, NULL, 0);
  printf("IPC_RMID attached: %s\n", err(shmctl(again, IPC_RMID, NULL)));
  const char *r = err(shmctl(again, IPC_STAT, &ds));
  printf("IPC_STAT: %s, marked for destruction %d, key %d\n", r,
         (ds.shm_perm.mode & SHM_DEST) != 0, (int)ds.shm_perm.__key);
  printf("shmget by key now: %s\n", err(shmget(key, 4096, 0)));
  strcpy(d, "still there");
  printf("still usable: \"%s\"\n", d);
  printf("shmdt the last attach: %s\n", err(shmdt(d)));
  printf("IPC_STAT after the last detach: %s\n", err(shmctl(again, IPC_STAT, &ds)));
  shmdt(a);
  shmctl(id, IPC_RMID, NULL);
  printf("shmctl bad command: %s\n", err(shmctl(id, 99, &ds)));
}

/* POSIX shm_open and sem_open: files in /dev/shm, mapped MAP_SHARED by both processes. */
static void posix(void) {
  char shm_name[64], sem_name[64];
  snprintf(shm_name, sizeof shm_name, "/vk-ipc-shm-%d", (int)getpid());
  snprintf(sem_name, sizeof sem_name, "/vk-ipc-sem-%d", (int)getpid());
  int fd = shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL, 0600);
  printf("shm_open: %s\n", err(fd));
  printf("shm_open exclusive again: %s\n", err(shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL, 0600)));
  printf("ftruncate: %s\n", err(ftruncate(fd, 8192)));
  char *a = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  printf("mmap: %s\n", err(a == MAP_FAILED ? -1 : 0));
  sem_t *sem = sem_open(sem_name, O_CREAT | O_EXCL, 0600, 0);
  printf("sem_open: %s\n", err(sem == SEM_FAILED ? -1 : 0));
  pid_t p = child();
  if (p == 0) {
    /* Not a copy of the parent's mapping: the child opens both by name. */
    int cfd = shm_open(shm_name, O_RDWR, 0);
    char *b = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
    sem_t *csem = sem_open(sem_name, 0);
    printf("child's sem_wait: %s\n", err(sem_wait(csem)));
    printf("child sees \"%s\"\n", b + 4096);
    strcpy(b, "from the child");
    sem_post(csem);
    _exit(0);
  }
  wait_until_sleeping(p);
  strcpy(a + 4096, "from the parent");
  const char *posted = err(sem_post(sem));
  reap(p);
  printf("sem_post: %s\n", posted);
  printf("parent's sem_wait: %s\n", err(sem_wait(sem)));
  printf("parent sees \"%s\"\n", a);
  printf("sem_trywait on 0: %s\n", err(sem_trywait(sem)));
  printf("sem_unlink: %s\n", err(sem_unlink(sem_name)));
  printf("shm_unlink: %s\n", err(shm_unlink(shm_name)));
  printf("shm_open after unlink: %s\n", err(shm_open(shm_name, O_RDWR, 0)));
  printf("still mapped: \"%s\"\n", a);
  munmap(a, 8192);
  close(fd);
  sem_close(sem);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  key_t base = 0x56000000 | ((getpid() & 0xffff) << 4);
  messages(base + 1);
  semaphores(base + 2);
  shared_memory(base + 3);
  posix();
  printf("done\n");
  return 0;
}
