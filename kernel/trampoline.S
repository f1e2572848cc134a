# The page mapped at TRAMPOLINE in every address space: switching between user
# and kernel page tables on trap entry (uservec) and return (userret).
# It runs at TRAMPOLINE, not at its link address, so it must not refer to any
# symbol by absolute or pc-relative address; all it needs is in the trapframe.
#
# TLB flushes (the fast path): a user satp with a nonzero ASID field means this
# hart has ASIDs and usertrapret() tagged the user page table (see trap.c). Then
# the kernel (ASID 0, its page table never changes after boot) needs no flush on
# entry, and the return flushes only the user ASID. With ASID 0 everywhere both
# directions flush the whole TLB, since user and kernel entries would mix.
# Either way every return to user space drops all user translations this hart
# holds, and the kernel reaches user memory through its own direct map, so the
# kernel needs no flush of its own after changing a user PTE: the change is in
# force when the process next runs user code, on whichever hart.
#include "kernel/riscv.h"
#include "kernel/memlayout.h"

# Trapframe offsets, see struct trapframe in proc.h.
.equ TF_KERNEL_SATP,    0
.equ TF_KERNEL_SP,      8
.equ TF_KERNEL_TRAP,   16
.equ TF_EPC,           24
.equ TF_KERNEL_HARTID, 32
.equ TF_RA,    40
.equ TF_SP,    48
.equ TF_GP,    56
.equ TF_TP,    64
.equ TF_T0,    72
.equ TF_T1,    80
.equ TF_T2,    88
.equ TF_S0,    96
.equ TF_S1,   104
.equ TF_A0,   112
.equ TF_A1,   120
.equ TF_A2,   128
.equ TF_A3,   136
.equ TF_A4,   144
.equ TF_A5,   152
.equ TF_A6,   160
.equ TF_A7,   168
.equ TF_S2,   176
.equ TF_S3,   184
.equ TF_S4,   192
.equ TF_S5,   200
.equ TF_S6,   208
.equ TF_S7,   216
.equ TF_S8,   224
.equ TF_S9,   232
.equ TF_S10,  240
.equ TF_S11,  248
.equ TF_T3,   256
.equ TF_T4,   264
.equ TF_T5,   272
.equ TF_T6,   280

.section trampsec, "ax", @progbits
.globl trampoline
.globl uservec
.globl userret

# Trap from user mode. stvec points here (at its TRAMPOLINE address) while a
# process runs in user mode; the user page table is still active and maps the
# trapframe at TRAPFRAME. Every user register must survive untouched, so a0 is
# parked in sscratch until another register has been saved.
.balign 4
uservec:
        csrw    sscratch, a0
        li      a0, TRAPFRAME

        sd      ra,  TF_RA(a0)
        sd      sp,  TF_SP(a0)
        sd      gp,  TF_GP(a0)
        sd      tp,  TF_TP(a0)
        sd      t0,  TF_T0(a0)
        sd      t1,  TF_T1(a0)
        sd      t2,  TF_T2(a0)
        sd      s0,  TF_S0(a0)
        sd      s1,  TF_S1(a0)
        sd      a1,  TF_A1(a0)
        sd      a2,  TF_A2(a0)
        sd      a3,  TF_A3(a0)
        sd      a4,  TF_A4(a0)
        sd      a5,  TF_A5(a0)
        sd      a6,  TF_A6(a0)
        sd      a7,  TF_A7(a0)
        sd      s2,  TF_S2(a0)
        sd      s3,  TF_S3(a0)
        sd      s4,  TF_S4(a0)
        sd      s5,  TF_S5(a0)
        sd      s6,  TF_S6(a0)
        sd      s7,  TF_S7(a0)
        sd      s8,  TF_S8(a0)
        sd      s9,  TF_S9(a0)
        sd      s10, TF_S10(a0)
        sd      s11, TF_S11(a0)
        sd      t3,  TF_T3(a0)
        sd      t4,  TF_T4(a0)
        sd      t5,  TF_T5(a0)
        sd      t6,  TF_T6(a0)
        csrr    t0, sscratch
        sd      t0,  TF_A0(a0)

        # The kernel fields were filled in by usertrapret() on the way out.
        ld      sp, TF_KERNEL_SP(a0)
        ld      tp, TF_KERNEL_HARTID(a0)
        ld      t0, TF_KERNEL_TRAP(a0)
        ld      t1, TF_KERNEL_SATP(a0)

        # This page is mapped at the same address in the kernel table, so
        # the fetches after the switch still work.
        csrr    t2, satp
        slli    t2, t2, 4       # drop MODE (bits 63..60) ...
        srli    t2, t2, 48      # ... and keep the ASID (bits 59..44)
        bnez    t2, 1f
        # No ASIDs: finish all user-table accesses before the switch, and
        # drop the user translations after it.
        sfence.vma zero, zero
        csrw    satp, t1
        sfence.vma zero, zero
        jr      t0              # usertrap(), which does not return here
1:
        csrw    satp, t1        # tagged: the kernel's ASID 0 entries are valid
        jr      t0

# userret(a0 = user satp): called by usertrapret() through its TRAMPOLINE
# address, with interrupts off, sepc and sstatus already set for the return.
.balign 4
userret:
        slli    t0, a0, 4
        srli    t0, t0, 48      # t0 = the ASID field of the user satp
        bnez    t0, 1f
        sfence.vma zero, zero   # no ASIDs: order PTE stores, switch, flush all
        csrw    satp, a0
        sfence.vma zero, zero
        j       2f
1:
        # Tagged: drop every cached entry of the user ASID (another process's,
        # or stale ones of this process), which also orders the kernel's
        # page-table stores before the walks below. Kernel (ASID 0) entries stay.
        # This must come before the first TRAPFRAME access, whose translation
        # differs from process to process.
        csrw    satp, a0
        sfence.vma zero, t0
2:
        li      a0, TRAPFRAME
        ld      ra,  TF_RA(a0)
        ld      sp,  TF_SP(a0)
        ld      gp,  TF_GP(a0)
        ld      tp,  TF_TP(a0)
        ld      t0,  TF_T0(a0)
        ld      t1,  TF_T1(a0)
        ld      t2,  TF_T2(a0)
        ld      s0,  TF_S0(a0)
        ld      s1,  TF_S1(a0)
        ld      a1,  TF_A1(a0)
        ld      a2,  TF_A2(a0)
        ld      a3,  TF_A3(a0)
        ld      a4,  TF_A4(a0)
        ld      a5,  TF_A5(a0)
        ld      a6,  TF_A6(a0)
        ld      a7,  TF_A7(a0)
        ld      s2,  TF_S2(a0)
        ld      s3,  TF_S3(a0)
        ld      s4,  TF_S4(a0)
        ld      s5,  TF_S5(a0)
        ld      s6,  TF_S6(a0)
        ld      s7,  TF_S7(a0)
        ld      s8,  TF_S8(a0)
        ld      s9,  TF_S9(a0)
        ld      s10, TF_S10(a0)
        ld      s11, TF_S11(a0)
        ld      t3,  TF_T3(a0)
        ld      t4,  TF_T4(a0)
        ld      t5,  TF_T5(a0)
        ld      t6,  TF_T6(a0)
        ld      a0,  TF_A0(a0)

        sret                    # to user mode at sepc, interrupts back on
