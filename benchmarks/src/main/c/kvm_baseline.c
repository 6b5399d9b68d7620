/*
 * C baselines for benchmarks/run: the same guest work as the Java service, done with raw KVM
 * the same way (one memory slot, user code at CPL3 on 4-level page tables, LSTAR -> user
 * trampoline "out", exception stubs of one "out" each, kvm_run sync registers for every register
 * transfer, re-entry to CPL3 through sync sregs after an exception).
 *
 *   kvm_baseline syscall|trap ITERATIONS BATCHES [CPU]
 *       mean nanoseconds per round trip of each batch, one per line
 *   kvm_baseline fault PAGES BATCHES [CPU]
 *       mean nanoseconds per page of a guest's first touch of PAGES fresh pages, per batch, with
 *       demand faults resolved like the service: the faulting page's 16-page block is mapped
 *   kvm_baseline touch-native PAGES
 *       milliseconds for this process to touch PAGES fresh anonymous pages
 *   kvm_baseline touch-kvm PAGES
 *       milliseconds for a guest to touch PAGES fresh pages, one store each, with each demand
 *       fault mapping the faulting page's 2 MiB block with leaves as the service makes them
 *       (accessed, dirty), on guest memory mapped and advised as the service maps its own (a
 *       memfd, 2 MiB-aligned, MADV_HUGEPAGE): the floor under the service's touch-1g on the same
 *       host
 *
 * With CPU, the process pins itself to that CPU (the Java side pins its vCPU thread to the same).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PML4 0x1000
#define PDPT 0x2000
#define PD 0x3000
#define PT 0x4000 /* 8 tables: 16 MiB identity */
#define GDT 0x10000
#define TSS 0x10080
#define IDT 0x11000
#define STUBS 0x12000
#define TRAMP 0x13000
#define KSTACK_TOP 0x20000
#define UTEXT 0x400000
#define USTACK_TOP 0x600000
#define HOLE 0x700000          /* not present */
#define REGION 0x40000000ull   /* the fault benchmark's region: PDPT[1] */
#define FIRST_FREE (16ull << 20)
#define P 1ull
#define W 2ull
#define U 4ull
#define NX (1ull << 63)
#define A 0x20ull
#define D 0x40ull
/* Fault-around pages: 16 as the service's old default; touch-kvm sets 512 (2 MiB). */
static uint64_t block_pages = 16;
/* Extra bits of a data leaf: touch-kvm sets accessed and dirty, as the service's leaves have
 * them (KVM's shadow MMU prefetches neighbouring entries only when they are accessed). */
static uint64_t leaf_bits = 0;
/* Guest memory: 512 MiB; touch-kvm sets what its pages need. */
static uint64_t mem_size = 512ull << 20;

#define CHECK(x) do { if ((x) < 0) { perror(#x); exit(1); } } while (0)

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

struct vm {
  int kvm, fd, vcpu;
  uint8_t *mem;
  uint8_t *mapping; /* what to munmap: mem with its alignment slack */
  uint64_t mapping_size;
  struct kvm_run *run;
  struct kvm_segment ucs, uds;
  uint64_t next_frame;
};

static void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  CHECK(sched_setaffinity(0, sizeof(set), &set));
}

/* A VM running `code` at UTEXT at CPL3, with the service's kind of stubs. */
static void vm_create(struct vm *v, const uint8_t *code, size_t code_len, uint64_t rbx, uint64_t rcx) {
  memset(v, 0, sizeof(*v));
  v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  CHECK(v->kvm);
  v->fd = ioctl(v->kvm, KVM_CREATE_VM, 0);
  CHECK(v->fd);
  /* A memfd mapped 2 MiB-aligned and advised MADV_HUGEPAGE, as the service maps its guest
   * memory, so that the host's shmem policy treats both alike. */
  int memfd = memfd_create("kvm-baseline", MFD_CLOEXEC);
  CHECK(memfd);
  CHECK(ftruncate(memfd, mem_size));
  v->mapping_size = mem_size + (2ull << 20);
  v->mapping = mmap(0, v->mapping_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (v->mapping == MAP_FAILED) { perror("mmap"); exit(1); }
  v->mem = (uint8_t *)(((uint64_t)v->mapping + (2ull << 20) - 1) & ~((2ull << 20) - 1));
  if (mmap(v->mem, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE, memfd, 0) == MAP_FAILED) {
    perror("mmap memfd");
    exit(1);
  }
  close(memfd);
  madvise(v->mem, mem_size, MADV_HUGEPAGE); /* refused without THP: then small pages */
  struct kvm_userspace_memory_region r = {.slot = 0, .memory_size = mem_size, .userspace_addr = (uint64_t)v->mem};
  CHECK(ioctl(v->fd, KVM_SET_USER_MEMORY_REGION, &r));
  v->next_frame = FIRST_FREE;
  uint8_t *mem = v->mem;
  uint64_t *q = (uint64_t *)mem;
  q[PML4 / 8] = PDPT | P | W | U;
  q[PDPT / 8] = PD | P | W | U;
  for (int i = 0; i < 8; i++) q[PD / 8 + i] = (PT + i * 4096) | P | W | U;
  for (uint64_t va = 0x10000; va < 0x21000; va += 4096) q[PT / 8 + va / 4096] = va | P | W; /* supervisor */
  q[PT / 8 + TRAMP / 4096] = TRAMP | P | U;                                                 /* user RX */
  q[PT / 8 + UTEXT / 4096] = UTEXT | P | U;                                                 /* user RX */
  for (uint64_t va = USTACK_TOP - 0x10000; va < USTACK_TOP; va += 4096)
    q[PT / 8 + va / 4096] = va | P | W | U | NX;

  uint64_t gdt[10] = {0, 0, 0x00af9b000000ffffull, 0x00cf93000000ffffull, 0, 0x00cff3000000ffffull,
                      0x00affb000000ffffull, 0};
  uint64_t tl = 104 + 5 - 1;
  gdt[8] = (tl & 0xffff) | ((uint64_t)(TSS & 0xffffff) << 16) | (0x8bull << 40);
  memcpy(mem + GDT, gdt, sizeof(gdt));
  *(uint64_t *)(mem + TSS + 4) = KSTACK_TOP;
  *(uint16_t *)(mem + TSS + 102) = 104;
  memset(mem + TSS + 104, 0xff, 5);
  mem[TSS + 104 + 2] = 0xfe; /* port 0x10 allowed to CPL3 */
  for (int vec = 0; vec < 32; vec++) {
    uint64_t h = STUBS + vec * 16, type = (vec == 3 || vec == 4) ? 0xee : 0x8e;
    uint64_t *g = (uint64_t *)(mem + IDT + vec * 16);
    g[0] = (h & 0xffff) | (0x10ull << 16) | (type << 40) | (((h >> 16) & 0xffff) << 48);
    g[1] = h >> 32;
    mem[STUBS + vec * 16] = 0xe6; /* out %al, $0x11 */
    mem[STUBS + vec * 16 + 1] = 0x11;
    mem[STUBS + vec * 16 + 2] = 0xf4; /* hlt */
  }
  mem[TRAMP] = 0xe6; /* out %al, $0x10 */
  mem[TRAMP + 1] = 0x10;
  mem[TRAMP + 2] = 0xf4;
  memcpy(mem + UTEXT, code, code_len);

  v->vcpu = ioctl(v->fd, KVM_CREATE_VCPU, 0);
  CHECK(v->vcpu);
  int run_size = ioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  v->run = mmap(0, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);

  struct kvm_sregs s;
  CHECK(ioctl(v->vcpu, KVM_GET_SREGS, &s));
  struct kvm_segment ucs = {.limit = 0xffffffff, .selector = 0x33, .type = 11, .present = 1, .dpl = 3, .s = 1, .l = 1, .g = 1};
  struct kvm_segment uds = {.limit = 0xffffffff, .selector = 0x2b, .type = 3, .present = 1, .dpl = 3, .s = 1, .db = 1, .g = 1};
  struct kvm_segment tr = {.base = TSS, .limit = tl, .selector = 0x40, .type = 11, .present = 1};
  v->ucs = ucs;
  v->uds = uds;
  s.cs = ucs;
  s.ss = s.ds = s.es = s.fs = s.gs = uds;
  s.tr = tr;
  s.gdt.base = GDT;
  s.gdt.limit = 79;
  s.idt.base = IDT;
  s.idt.limit = 511;
  s.cr3 = PML4;
  s.cr0 = 0x80050033;
  s.cr4 = 0x20 | 0x200 | 0x400 | 0x800;
  s.efer = 0xd01;
  CHECK(ioctl(v->vcpu, KVM_SET_SREGS, &s));
  struct {
    struct kvm_msrs h;
    struct kvm_msr_entry e[3];
  } ms = {.h.nmsrs = 3,
          .e = {{.index = 0xc0000081, .data = (0x23ull << 48) | (0x10ull << 32)},
                {.index = 0xc0000082, .data = TRAMP},
                {.index = 0xc0000084, .data = 0x100}}};
  if (ioctl(v->vcpu, KVM_SET_MSRS, &ms) != 3) { perror("KVM_SET_MSRS"); exit(1); }
  struct kvm_regs g = {.rip = UTEXT, .rsp = USTACK_TOP, .rflags = 0x202, .rbx = rbx, .rcx = rcx};
  CHECK(ioctl(v->vcpu, KVM_SET_REGS, &g));
  v->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
}

static void vm_destroy(struct vm *v) {
  munmap(v->run, 4096 * 3);
  close(v->vcpu);
  close(v->fd);
  close(v->kvm);
  munmap(v->mapping, v->mapping_size);
}

/* Whether an I/O exit's RIP is the stub's 2-byte `out` at `at`: standard KVM reports the `out`
 * itself (it completes the instruction on the next KVM_RUN unless the caller moved RIP), the
 * PVM flavour the instruction after it. */
#define AT_OUT(rip, at) ((rip) == (at) || (rip) == (at) + 2)

static void enter(struct vm *v) {
  if (ioctl(v->vcpu, KVM_RUN, 0) < 0) { perror("KVM_RUN"); exit(1); }
  if (v->run->exit_reason != KVM_EXIT_IO) { fprintf(stderr, "exit %d\n", v->run->exit_reason); exit(1); }
}

/* Returns the user at the exception frame's state, to `rip`. */
static void resume_user(struct vm *v, uint64_t rip) {
  struct kvm_regs *rg = &v->run->s.regs.regs;
  uint64_t *f = (uint64_t *)(v->mem + rg->rsp); /* err rip cs rflags rsp ss */
  rg->rip = rip;
  rg->rflags = f[3];
  rg->rsp = f[4];
  v->run->s.regs.sregs.cs = v->ucs;
  v->run->s.regs.sregs.ss = v->uds;
  v->run->kvm_dirty_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
}

static uint64_t frame(struct vm *v) {
  uint64_t f = v->next_frame;
  v->next_frame += 4096;
  if (v->next_frame > mem_size) { fprintf(stderr, "out of memory\n"); exit(1); }
  return f;
}

/* Maps the not-present pages of the block around `va`, creating tables as needed. */
static void map_block(struct vm *v, uint64_t va) {
  uint64_t *q = (uint64_t *)v->mem;
  uint64_t start = va & ~(block_pages * 4096ull - 1);
  for (uint64_t p = start; p < start + block_pages * 4096ull; p += 4096) {
    uint64_t *pdpte = &q[PDPT / 8 + ((p >> 30) & 511)];
    if (!(*pdpte & P)) *pdpte = frame(v) | P | W | U;
    uint64_t *pde = &q[(*pdpte & ~0xfffull & ~NX) / 8 + ((p >> 21) & 511)];
    if (!(*pde & P)) *pde = frame(v) | P | W | U;
    uint64_t *pte = &q[(*pde & ~0xfffull & ~NX) / 8 + ((p >> 12) & 511)];
    if (!(*pte & P)) *pte = frame(v) | P | W | U | NX | leaf_bits;
  }
}

static void roundtrips(int trap, long n, int batches) {
  /* syscall; jmp .-4   or   mov (%rbx),%al; jmp .-4 */
  uint8_t sys_loop[] = {0x0f, 0x05, 0xeb, 0xfc};
  uint8_t pf_loop[] = {0x8a, 0x03, 0xeb, 0xfc};
  struct vm v;
  vm_create(&v, trap ? pf_loop : sys_loop, 4, HOLE, 0);
  struct kvm_run *run = v.run;
#define ROUND_TRIP()                                                                        \
  do {                                                                                      \
    enter(&v);                                                                              \
    struct kvm_regs *rg = &run->s.regs.regs;                                                \
    if (!trap) {                                                                            \
      if (run->io.port != 0x10 || !AT_OUT(rg->rip, TRAMP)) { fprintf(stderr, "bad exit\n"); exit(1); } \
      rg->rip = rg->rcx; /* resume after the syscall */                                     \
      rg->rflags = rg->r11;                                                                 \
      rg->rax = 0;       /* the caller's return value */                                    \
      run->kvm_dirty_regs = KVM_SYNC_X86_REGS;                                              \
    } else {                                                                                \
      if (run->io.port != 0x11 || !AT_OUT(rg->rip, STUBS + 14 * 16)) { fprintf(stderr, "bad trap\n"); exit(1); } \
      if (run->s.regs.sregs.cr2 != HOLE) { fprintf(stderr, "cr2\n"); exit(1); }          \
      uint64_t *f = (uint64_t *)(v.mem + rg->rsp);                                          \
      resume_user(&v, f[1] + 2); /* the caller skips the faulting load */                   \
    }                                                                                       \
  } while (0)
  for (int i = 0; i < 2000; i++) ROUND_TRIP();
  long per = n / batches;
  for (int b = 0; b < batches; b++) {
    double t0 = now_ns();
    for (long i = 0; i < per; i++) ROUND_TRIP();
    printf("%.1f\n", (now_ns() - t0) / per);
  }
  vm_destroy(&v);
}

/* The guest touches `pages` fresh pages; every #PF maps its block; ns per page. */
static double fault_run(long pages) {
  /* 1: movb $1,(%rbx); add $4096,%rbx; dec %rcx; jnz 1b; syscall; hlt */
  uint8_t touch[] = {0xc6, 0x03, 0x01, 0x48, 0x81, 0xc3, 0x00, 0x10, 0x00, 0x00,
                     0x48, 0xff, 0xc9, 0x75, 0xf1, 0x0f, 0x05, 0xf4};
  struct vm v;
  vm_create(&v, touch, sizeof(touch), REGION, pages);
  double t0 = now_ns();
  while (1) {
    enter(&v);
    struct kvm_regs *rg = &v.run->s.regs.regs;
    if (v.run->io.port == 0x10) break; /* the final syscall */
    if (v.run->io.port != 0x11 || !AT_OUT(rg->rip, STUBS + 14 * 16)) { fprintf(stderr, "bad fault exit\n"); exit(1); }
    uint64_t *f = (uint64_t *)(v.mem + rg->rsp);
    map_block(&v, v.run->s.regs.sregs.cr2);
    resume_user(&v, f[1]);
  }
  double ns = (now_ns() - t0) / pages;
  vm_destroy(&v);
  return ns;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s syscall|trap|fault N BATCHES [CPU] | touch-native PAGES\n", argv[0]);
    return 2;
  }
  const char *mode = argv[1];
  long n = atol(argv[2]);
  if (strcmp(mode, "touch-native") == 0) {
    uint8_t *m = mmap(0, n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    double t0 = now_ns();
    for (long i = 0; i < n; i++) m[i * 4096] = 1;
    printf("%.1f\n", (now_ns() - t0) / 1e6);
    return 0;
  }
  if (strcmp(mode, "touch-kvm") == 0) {
    block_pages = 512;
    leaf_bits = A | D;
    /* The pages, their tables (one per 2 MiB, and a PD per GiB), the first 16 MiB, slack. */
    mem_size = (FIRST_FREE + n * 4096 + (n / 512 + n / (512 * 512) + 2) * 4096 + (4ull << 20)) & ~((2ull << 20) - 1);
    printf("%.1f\n", fault_run(n) * n / 1e6);
    return 0;
  }
  int batches = argc > 3 ? atoi(argv[3]) : 1;
  if (argc > 4) pin(atoi(argv[4]));
  if (strcmp(mode, "fault") == 0) {
    fault_run(n); /* warm up */
    for (int b = 0; b < batches; b++) printf("%.1f\n", fault_run(n));
    return 0;
  }
  roundtrips(strcmp(mode, "trap") == 0, n, batches);
  return 0;
}
