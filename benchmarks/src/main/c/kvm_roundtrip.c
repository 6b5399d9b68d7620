/*
 * C baseline for benchmarks/run syscall|trap: the same guest round trips as the Java service,
 * done with raw KVM the same way (one memory slot, user code at CPL3 on 4-level page tables,
 * LSTAR -> user trampoline "out", exception stubs of one "out" each, kvm_run sync registers
 * for every register transfer, re-entry to CPL3 through sync sregs after an exception).
 *
 *   kvm_roundtrip syscall|trap ITERATIONS BATCHES [CPU]
 *
 * prints the mean nanoseconds per round trip of each batch, one per line. With CPU, the process
 * pins itself to that CPU (the Java side pins its vCPU thread to the same one).
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

#define MEM (16u << 20)
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
#define HOLE 0x700000 /* not present */
#define P 1ull
#define W 2ull
#define U 4ull
#define NX (1ull << 63)

#define CHECK(x) do { if ((x) < 0) { perror(#x); exit(1); } } while (0)

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s syscall|trap ITERATIONS BATCHES\n", argv[0]);
    return 2;
  }
  int trap = strcmp(argv[1], "trap") == 0;
  long n = atol(argv[2]);
  int batches = atoi(argv[3]);
  if (argc > 4) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(atoi(argv[4]), &set);
    CHECK(sched_setaffinity(0, sizeof(set), &set));
  }

  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  CHECK(kvm);
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  CHECK(vm);
  uint8_t *mem = mmap(0, MEM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  struct kvm_userspace_memory_region r = {.slot = 0, .memory_size = MEM, .userspace_addr = (uint64_t)mem};
  CHECK(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r));

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
  for (int v = 0; v < 32; v++) {
    uint64_t h = STUBS + v * 16, type = (v == 3 || v == 4) ? 0xee : 0x8e;
    uint64_t *g = (uint64_t *)(mem + IDT + v * 16);
    g[0] = (h & 0xffff) | (0x10ull << 16) | (type << 40) | (((h >> 16) & 0xffff) << 48);
    g[1] = h >> 32;
    mem[STUBS + v * 16] = 0xe6; /* out %al, $0x11 */
    mem[STUBS + v * 16 + 1] = 0x11;
    mem[STUBS + v * 16 + 2] = 0xf4; /* hlt */
  }
  mem[TRAMP] = 0xe6; /* out %al, $0x10 */
  mem[TRAMP + 1] = 0x10;
  mem[TRAMP + 2] = 0xf4;
  /* syscall; jmp .-4 */
  uint8_t sys_loop[] = {0x0f, 0x05, 0xeb, 0xfc};
  /* mov (%rbx),%al; jmp .-4 */
  uint8_t pf_loop[] = {0x8a, 0x03, 0xeb, 0xfc};
  memcpy(mem + UTEXT, trap ? pf_loop : sys_loop, 4);

  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  CHECK(vcpu);
  int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(0, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);

  struct kvm_sregs s;
  CHECK(ioctl(vcpu, KVM_GET_SREGS, &s));
  struct kvm_segment ucs = {.limit = 0xffffffff, .selector = 0x33, .type = 11, .present = 1, .dpl = 3, .s = 1, .l = 1, .g = 1};
  struct kvm_segment uds = {.limit = 0xffffffff, .selector = 0x2b, .type = 3, .present = 1, .dpl = 3, .s = 1, .db = 1, .g = 1};
  struct kvm_segment tr = {.base = TSS, .limit = tl, .selector = 0x40, .type = 11, .present = 1};
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
  CHECK(ioctl(vcpu, KVM_SET_SREGS, &s));
  struct {
    struct kvm_msrs h;
    struct kvm_msr_entry e[3];
  } ms = {.h.nmsrs = 3,
          .e = {{.index = 0xc0000081, .data = (0x23ull << 48) | (0x10ull << 32)},
                {.index = 0xc0000082, .data = TRAMP},
                {.index = 0xc0000084, .data = 0x100}}};
  if (ioctl(vcpu, KVM_SET_MSRS, &ms) != 3) { perror("KVM_SET_MSRS"); return 1; }
  struct kvm_regs g = {.rip = UTEXT, .rsp = USTACK_TOP, .rflags = 0x202, .rbx = HOLE};
  CHECK(ioctl(vcpu, KVM_SET_REGS, &g));
  run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;

  /* One round trip: what the service does per returned exit. */
#define ROUND_TRIP()                                                                        \
  do {                                                                                      \
    if (ioctl(vcpu, KVM_RUN, 0) < 0) { perror("KVM_RUN"); exit(1); }                       \
    struct kvm_regs *rg = &run->s.regs.regs;                                                \
    if (run->exit_reason != KVM_EXIT_IO) { fprintf(stderr, "exit %d\n", run->exit_reason); exit(1); } \
    if (!trap) {                                                                            \
      if (run->io.port != 0x10 || rg->rip != TRAMP + 2) { fprintf(stderr, "bad exit\n"); exit(1); } \
      rg->rip = rg->rcx; /* resume after the syscall */                                     \
      rg->rflags = rg->r11;                                                                 \
      rg->rax = 0;       /* the caller's return value */                                    \
      run->kvm_dirty_regs = KVM_SYNC_X86_REGS;                                              \
    } else {                                                                                \
      if (run->io.port != 0x11 || rg->rip != STUBS + 14 * 16 + 2) { fprintf(stderr, "bad trap\n"); exit(1); } \
      uint64_t *f = (uint64_t *)(mem + rg->rsp); /* err rip cs rflags rsp ss */           \
      if (run->s.regs.sregs.cr2 != HOLE) { fprintf(stderr, "cr2\n"); exit(1); }          \
      rg->rip = f[1] + 2; /* the caller skips the faulting load */                          \
      rg->rflags = f[3];                                                                    \
      rg->rsp = f[4];                                                                       \
      run->s.regs.sregs.cs = ucs;                                                           \
      run->s.regs.sregs.ss = uds;                                                           \
      run->kvm_dirty_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;                         \
    }                                                                                       \
  } while (0)

  for (int i = 0; i < 2000; i++) ROUND_TRIP();
  long per = n / batches;
  for (int b = 0; b < batches; b++) {
    double t0 = now_ns();
    for (long i = 0; i < per; i++) ROUND_TRIP();
    printf("%.1f\n", (now_ns() - t0) / per);
  }
  return 0;
}
