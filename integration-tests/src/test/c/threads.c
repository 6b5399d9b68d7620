/* POSIX threads as real programs use them; every line printed is the same natively and in the
 * vkernel (only the main thread prints, after joining). Modes: no argument runs every check;
 * "exec-child OLDPID" is the image a thread's execve starts; "main-exits" ends the main thread
 * with pthread_exit while another thread finishes the process. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond, ...) do { if (!(cond)) { printf("FAILED %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); exit(1); } } while (0)

static pid_t gettid_(void) { return (pid_t) syscall(SYS_gettid); }

/* ---- 8 threads, a mutex and a condition variable */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_done = PTHREAD_COND_INITIALIZER;
static long counter;
static int finished;
static __thread int tls_value = -1;
static pid_t tids[8];

static void *count_up(void *arg) {
  int id = (int) (long) arg;
  tls_value = id * 10;
  tids[id] = gettid_();
  for (int i = 0; i < 20000; i++) {
    pthread_mutex_lock(&lock);
    counter++;
    pthread_mutex_unlock(&lock);
    if (i % 5000 == 0) {
      sched_yield();
    }
  }
  CHECK(tls_value == id * 10, "thread %d sees tls %d", id, tls_value);
  pthread_mutex_lock(&lock);
  finished++;
  pthread_cond_signal(&all_done);
  pthread_mutex_unlock(&lock);
  return (void *) (long) (id + 100);
}

static void mutex_condvar_tls(void) {
  pthread_t t[8];
  tls_value = 7;
  for (long i = 0; i < 8; i++) {
    CHECK(pthread_create(&t[i], NULL, count_up, (void *) i) == 0, "create");
  }
  pthread_mutex_lock(&lock);
  while (finished < 8) {
    pthread_cond_wait(&all_done, &lock);
  }
  pthread_mutex_unlock(&lock);
  for (int i = 0; i < 8; i++) {
    void *r;
    CHECK(pthread_join(t[i], &r) == 0, "join");
    CHECK((long) r == i + 100, "thread %d returned %ld", i, (long) r);
  }
  int distinct = 1;
  for (int i = 0; i < 8; i++) {
    distinct &= tids[i] != getpid() && tids[i] > 0;
    for (int j = 0; j < i; j++) {
      distinct &= tids[i] != tids[j];
    }
  }
  printf("mutex+condvar: counter %ld, finished %d, main tls %d, distinct tids %s\n", counter, finished, tls_value,
      distinct ? "yes" : "no");
}

/* ---- a detached thread and a semaphore */
static sem_t detached_done;

static void *detached(void *arg) {
  (void) arg;
  sem_post(&detached_done);
  return NULL;
}

static sem_t items, slots;
static int ring[4];
static long consumed_sum;

static void *producer(void *arg) {
  (void) arg;
  for (int i = 1; i <= 2000; i++) {
    sem_wait(&slots);
    ring[i % 4] = i;
    sem_post(&items);
  }
  return NULL;
}

static void detached_and_semaphores(void) {
  pthread_attr_t a;
  pthread_t t;
  sem_init(&detached_done, 0, 0);
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  CHECK(pthread_create(&t, &a, detached, NULL) == 0, "create detached");
  CHECK(sem_wait(&detached_done) == 0, "sem_wait");
  printf("detached thread: posted its semaphore\n");

  sem_init(&items, 0, 0);
  sem_init(&slots, 0, 4);
  CHECK(pthread_create(&t, NULL, producer, NULL) == 0, "create producer");
  for (int i = 1; i <= 2000; i++) {
    sem_wait(&items);
    consumed_sum += ring[i % 4];
    sem_post(&slots);
  }
  pthread_join(t, NULL);
  printf("semaphores: 2000 items through a ring of 4, sum %ld\n", consumed_sum);
}

/* ---- cancellation at a cancellation point (read on an empty pipe) */
static int cancel_pipe[2];
static atomic_int cleanup_ran;

static void cleanup(void *arg) {
  (void) arg;
  cleanup_ran = 1;
}

static void *blocked_reader(void *arg) {
  (void) arg;
  char c;
  pthread_cleanup_push(cleanup, NULL);
  for (;;) {
    read(cancel_pipe[0], &c, 1);
  }
  pthread_cleanup_pop(0);
  return NULL;
}

static void cancellation(void) {
  pthread_t t;
  void *r;
  CHECK(pipe(cancel_pipe) == 0, "pipe");
  CHECK(pthread_create(&t, NULL, blocked_reader, NULL) == 0, "create");
  usleep(100000);
  CHECK(pthread_cancel(t) == 0, "cancel");
  CHECK(pthread_join(t, &r) == 0, "join");
  printf("cancel: joined %s, cleanup handler %s\n", r == PTHREAD_CANCELED ? "PTHREAD_CANCELED" : "something else",
      cleanup_ran ? "ran" : "did not run");
}

/* ---- a robust mutex whose owner dies */
static pthread_mutex_t robust;

static void *die_holding(void *arg) {
  (void) arg;
  pthread_mutex_lock(&robust);
  return NULL; /* exits with the lock held */
}

static void robust_mutex(void) {
  pthread_mutexattr_t a;
  pthread_t t;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&robust, &a);
  CHECK(pthread_create(&t, NULL, die_holding, NULL) == 0, "create");
  pthread_join(t, NULL);
  int r = pthread_mutex_lock(&robust);
  const char *what = r == EOWNERDEAD ? "EOWNERDEAD" : r == 0 ? "0" : strerror(r);
  if (r == EOWNERDEAD) {
    pthread_mutex_consistent(&robust);
  }
  CHECK(pthread_mutex_unlock(&robust) == 0, "unlock");
  CHECK(pthread_mutex_lock(&robust) == 0, "relock");
  pthread_mutex_unlock(&robust);
  printf("robust mutex: lock after the owner died returned %s, then consistent\n", what);
}

/* ---- a priority-inheritance mutex under contention */
static pthread_mutex_t pi;
/* The futex word of a mutex: glibc's __data.__lock, musl's _m_lock (__u.__vi[1]). */
#ifdef __GLIBC__
#define PI_LOCK_WORD(m) ((volatile int *) &(m)->__data.__lock)
#else
#define PI_LOCK_WORD(m) (&(m)->__u.__vi[1])
#endif
static atomic_int pi_waiting;

static void *pi_contender(void *arg) {
  (void) arg;
  pi_waiting = 1;
  CHECK(pthread_mutex_lock(&pi) == 0, "pi lock in thread");
  pthread_mutex_unlock(&pi);
  return (void *) 1;
}

static void pi_mutex(void) {
  pthread_mutexattr_t a;
  pthread_t t;
  void *r;
  pthread_mutexattr_init(&a);
  CHECK(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT) == 0, "setprotocol");
  CHECK(pthread_mutex_init(&pi, &a) == 0, "init");
  CHECK(pthread_mutex_lock(&pi) == 0, "lock");
  CHECK(pthread_create(&t, NULL, pi_contender, NULL) == 0, "create");
  while (!pi_waiting) {
    sched_yield();
  }
  /* Wait for the event, not for a while: the kernel sets FUTEX_WAITERS in the lock word when the
   * contender sleeps in FUTEX_LOCK_PI, so the unlock below must hand the lock over. */
  int in_kernel = 0;
  for (int i = 0; i < 60000 && !in_kernel; i++) {
    in_kernel = (*PI_LOCK_WORD(&pi) & 0x80000000) != 0;
    if (!in_kernel) {
      usleep(1000);
    }
  }
  CHECK(in_kernel, "the contender never slept in FUTEX_LOCK_PI");
  CHECK(pthread_mutex_unlock(&pi) == 0, "unlock");
  pthread_join(t, &r);
  CHECK(pthread_mutex_trylock(&pi) == 0, "trylock");
  pthread_mutex_unlock(&pi);
  printf("pi mutex: contended lock handed over, thread returned %ld\n", (long) r);
}

/* ---- pthread_once and barriers */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_int once_runs;
static pthread_barrier_t barrier;
static atomic_int serial_count;

static void init_once(void) {
  once_runs++;
  usleep(20000);
}

static void *once_and_barrier(void *arg) {
  (void) arg;
  pthread_once(&once, init_once);
  for (int round = 0; round < 3; round++) {
    if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
      serial_count++;
    }
  }
  return NULL;
}

static void once_barrier(void) {
  pthread_t t[4];
  pthread_barrier_init(&barrier, NULL, 4);
  for (int i = 0; i < 4; i++) {
    pthread_create(&t[i], NULL, once_and_barrier, NULL);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
  }
  printf("pthread_once: init ran %d time(s); barrier: %d serial thread(s) in 3 rounds\n", (int) once_runs,
      (int) serial_count);
}

/* ---- signals: to the process (taken by the thread that does not block it) and to one thread */
static atomic_int handled_by;
static sem_t usr_ready;
static atomic_int stop_waiting;

static void on_usr1(int sig) {
  (void) sig;
  handled_by = gettid_();
}

static void *unblocked(void *arg) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  pthread_sigmask(SIG_UNBLOCK, &s, NULL);
  *(pid_t *) arg = gettid_();
  sem_post(&usr_ready);
  while (!stop_waiting) {
    usleep(1000);
  }
  return NULL;
}

static void signals(void) {
  sigset_t s;
  pthread_t t;
  pid_t tid = 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &s, NULL);
  sem_init(&usr_ready, 0, 0);
  pthread_create(&t, NULL, unblocked, &tid);
  sem_wait(&usr_ready);
  kill(getpid(), SIGUSR1);
  for (int i = 0; i < 5000 && !handled_by; i++) {
    usleep(1000);
  }
  int process_directed = handled_by == tid;
  handled_by = 0;
  pthread_kill(t, SIGUSR1);
  for (int i = 0; i < 5000 && !handled_by; i++) {
    usleep(1000);
  }
  int thread_directed = handled_by == tid;
  stop_waiting = 1;
  pthread_join(t, NULL);
  pthread_sigmask(SIG_UNBLOCK, &s, NULL);
  printf("signals: kill() handled by the unblocked thread: %s; pthread_kill() by its target: %s\n",
      process_directed ? "yes" : "no", thread_directed ? "yes" : "no");
}

/* ---- two busy threads make progress together (the host preempts vCPUs, not the guest) */
static atomic_int flag_a, flag_b;

static void *spin_a(void *arg) {
  (void) arg;
  flag_a = 1;
  while (!flag_b) {
  }
  return NULL;
}

static void busy_threads(void) {
  pthread_t t;
  pthread_create(&t, NULL, spin_a, NULL);
  while (!flag_a) {
  }
  flag_b = 1;
  pthread_join(t, NULL);
  printf("busy threads: both spinning threads saw each other\n");
}

/* ---- clone3's checks, in Linux's order, and a fork through it */
struct clone_args_v2 {
  unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
      set_tid_size, cgroup;
};

static const char *clone3_errno(struct clone_args_v2 *a, size_t size) {
  long r = syscall(SYS_clone3, a, size);
  if (r == 0) {
    _exit(0);
  }
  if (r > 0) {
    waitpid((pid_t) r, NULL, 0);
    return "ok";
  }
  return errno == EINVAL ? "EINVAL" : errno == E2BIG ? "E2BIG" : errno == EPERM ? "EPERM" : strerror(errno);
}

static void clone3_checks(void) {
  struct clone_args_v2 a;
  char big[8192];
  memset(&a, 0, sizeof a);
  a.exit_signal = SIGCHLD;
  printf("clone3: size 8 %s", clone3_errno(&a, 8));
  memset(big, 0, sizeof big);
  memcpy(big, &a, sizeof a);
  printf(", size 8192 %s", clone3_errno((struct clone_args_v2 *) big, sizeof big));
  big[100] = 1;
  printf(", junk past the struct %s", clone3_errno((struct clone_args_v2 *) big, 128));
  a.exit_signal = 65;
  printf(", exit_signal 65 %s", clone3_errno(&a, sizeof a));
  a.exit_signal = SIGCHLD;
  a.flags = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;
  printf(", thread with exit_signal %s", clone3_errno(&a, sizeof a));
  a.flags = SIGCHLD;
  printf(", signal in flags %s", clone3_errno(&a, sizeof a));
  a.flags = 0;
  a.stack_size = 4096;
  printf(", size without stack %s", clone3_errno(&a, sizeof a));
  a.stack_size = 0;
  a.set_tid_size = 1; /* without set_tid (set_tid itself depends on privilege: EPERM or EEXIST) */
  printf(", set_tid_size alone %s", clone3_errno(&a, sizeof a));
  a.set_tid_size = 0;
  fflush(stdout);
  long r = syscall(SYS_clone3, &a, sizeof a);
  if (r == 0) {
    _exit(7);
  }
  int st = 0;
  waitpid((pid_t) r, &st, 0);
  printf(", fork through it: child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* ---- reservations as Go and JVMs make them: huge, PROT_NONE, committed piecewise */
static void reservations(void) {
  size_t huge = (size_t) 64 << 30;
  char *p = mmap(NULL, huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  char *q = mmap(NULL, huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int ok = p != MAP_FAILED && q != MAP_FAILED;
  if (ok) {
    ok = mprotect(p + (huge / 2), 1 << 20, PROT_READ | PROT_WRITE) == 0;
    memset(p + (huge / 2), 7, 1 << 20);
    ok &= p[huge / 2 + 12345] == 7;
    munmap(p, huge);
    munmap(q, huge);
  }
  printf("reservations: two 64 GiB PROT_NONE mappings, 1 MiB of one made writable and used: %s\n",
      ok ? "yes" : "no");
}

/* ---- a thread calls execve; the process keeps its pid */
static char self_exe[4096];

static void *exec_from_thread(void *arg) {
  char pid[32];
  snprintf(pid, sizeof pid, "%d", (int) (long) arg);
  char *argv[] = {self_exe, "exec-child", pid, NULL};
  execv(self_exe, argv);
  printf("execv failed: %s\n", strerror(errno));
  exit(1);
}

static void *sleeper(void *arg) {
  (void) arg;
  for (;;) {
    pause();
  }
  return NULL;
}

static int exec_in_thread(void) {
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    pthread_t a, b;
    pthread_create(&a, NULL, sleeper, NULL);
    pthread_create(&b, NULL, exec_from_thread, (void *) (long) getpid());
    pthread_join(b, NULL);
    _exit(99);
  }
  int st;
  waitpid(child, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void *finisher(void *arg) {
  (void) arg;
  /* Likely to outlive the main thread; the output and status are the same if it does not (the
   * main thread is then the last out and exits 0). No event tells it apart: Linux keeps the
   * exited main thread as a zombie counted in Threads: until the process ends. */
  usleep(100000);
  printf("main-exits: the last thread ends the process\n");
  fflush(stdout);
  return (void *) 0; /* returning from the last thread: exit(0) */
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 3 && strcmp(argv[1], "exec-child") == 0) {
    printf("exec from a thread: same pid %s, one thread left: %s\n", atoi(argv[2]) == getpid() ? "yes" : "no",
        gettid_() == getpid() ? "yes" : "no");
    return 5;
  }
  if (argc == 2 && strcmp(argv[1], "main-exits") == 0) {
    pthread_t t;
    pthread_create(&t, NULL, finisher, NULL);
    pthread_exit(NULL);
  }
  ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
  CHECK(n > 0, "readlink /proc/self/exe");
  self_exe[n] = 0;
  mutex_condvar_tls();
  detached_and_semaphores();
  cancellation();
  robust_mutex();
  pi_mutex();
  once_barrier();
  signals();
  busy_threads();
  clone3_checks();
  reservations();
  int st = exec_in_thread();
  printf("exec child status %d\n", st);
  return 0;
}
