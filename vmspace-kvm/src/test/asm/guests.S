# Guest programs for the KVM backend tests. Linked at 0x400000; each routine is entered by
# setting the frame's rip to its symbol. User mode only.

        .text
        .code64

# rax on entry is the first "previous return value". Each iteration makes syscall 42 with
# rdi = the value the caller returned in rax last time, rsi = an iteration counter (r12), and
# rdx r10 r8 r9 as the caller set them.
        .globl syscall_loop
syscall_loop:
1:      mov     %rax, %rdi
        mov     $42, %eax
        inc     %r12
        mov     %r12, %rsi
        syscall
        jmp     1b

# A single syscall, then ud2 (so a missed resume is loud).
        .globl one_syscall
one_syscall:
        syscall
        ud2

        .globl do_ud2
do_ud2:
        ud2

        .globl do_int3
do_int3:
        int3
        ud2

        .globl do_hlt
do_hlt:
        hlt

        .globl do_out_imm
do_out_imm:
        out     %al, $0x10
        ud2

        .globl do_out_dx
do_out_dx:
        mov     $0x11, %dx
        .globl do_out_dx_insn
do_out_dx_insn:
        out     %al, %dx
        ud2

        .globl do_in_dx
do_in_dx:
        mov     $0x10, %dx
        .globl do_in_dx_insn
do_in_dx_insn:
        in      %dx, %al
        ud2

# Reads the quad at rbx into rax (a 3-byte instruction: 48 8b 03).
        .globl do_read
do_read:
        mov     (%rbx), %rax
        .globl do_read_done
do_read_done:
        mov     $1, %eax
        syscall
        ud2

# Writes rax to the quad at rbx (48 89 03).
        .globl do_write
do_write:
        mov     %rax, (%rbx)
        mov     $2, %eax
        syscall
        ud2

# Calls rbx (to fetch from an NX page).
        .globl do_call
do_call:
        call    *%rbx
        ud2

# Divides rax by zero.
        .globl do_div0
do_div0:
        xor     %ecx, %ecx
        div     %rcx
        ud2

# Three one-byte instructions, for single-stepping with TF.
        .globl do_steps
do_steps:
        nop
        .globl do_steps_2
do_steps_2:
        nop
        .globl do_steps_3
do_steps_3:
        nop
        ud2

# Counts in rax forever.
        .globl spin
spin:
        inc     %rax
        jmp     spin

# Counts in rax forever and stores the count at rcx: a heartbeat the host reads (through a
# shared memory object) to know that the guest is running, instead of waiting a fixed time.
        .globl spin_beat
spin_beat:
        inc     %rax
        mov     %rax, (%rcx)
        jmp     spin_beat
        .globl spin_beat_end
spin_beat_end:

# Reports the quad at rbx with syscall 1 (rdi = the value), forever.
        .globl read_report
read_report:
        mov     (%rbx), %rdi
        mov     $1, %eax
        syscall
        jmp     read_report

# Writes rdi to the quad at rbx, then syscall 2, forever.
        .globl write_report
write_report:
        mov     %rdi, (%rbx)
        mov     $2, %eax
        syscall
        jmp     write_report

# Touches one byte per page: rbx = start, rcx = pages; then syscall 3 with rdi = sum of bytes.
        .globl touch_pages
touch_pages:
        xor     %edi, %edi
1:      movzbq  (%rbx), %rax
        add     %rax, %rdi
        movb    $1, (%rbx)
        add     $4096, %rbx
        dec     %rcx
        jnz     1b
        mov     $3, %eax
        syscall
        ud2

# Reads fs:0 and gs:0 into rdi and rsi, then syscall 4.
        .globl read_tls
read_tls:
        mov     %fs:0, %rdi
        mov     %gs:0, %rsi
        mov     $4, %eax
        syscall
        ud2

# Puts rdi into xmm0, syscall 5, then reports xmm0 back in rdi with syscall 6.
        .globl xmm_roundtrip
xmm_roundtrip:
        movq    %rdi, %xmm0
        mov     $5, %eax
        syscall
        .globl xmm_report
xmm_report:
        movq    %xmm0, %rdi
        mov     $6, %eax
        syscall
        ud2

# Tries to switch to 32-bit code (selector 0x23) with a far jump through memory at rbx.
        .globl do_ljmp
do_ljmp:
        ljmp    *(%rbx)
        ud2

# Reads the quad at rbx into rax forever and counts the rounds at rcx (a heartbeat), with no
# exit: only a fault (or a stop) ends it.
        .globl read_spin_beat
read_spin_beat:
        mov     (%rbx), %rax
        incq    (%rcx)
        jmp     read_spin_beat
