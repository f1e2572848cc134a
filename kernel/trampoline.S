# The page mapped at TRAMPOLINE in every address space: switching between user
# and kernel page tables on trap entry (uservec) and return (userret).
# It runs at TRAMPOLINE, not at its link address, so it must not refer to any
# symbol by absolute or pc-relative address; all it needs is in the trapframe.
#
# TLB flushes: a user satp with a nonzero ASID field takes the fast path (trap.c
# says why it is sound); without ASIDs both directions flush the whole TLB. Either
# way, every return to user space drops this hart's user translations.
#include "kernel/riscv.h"
#include "kernel/memlayout.h"

# Trapframe offsets, see struct trapframe in proc.h: five kernel fields, then the 31 user
# registers in the order each_reg lists them.
.equ TF_KERNEL_SATP,    0
.equ TF_KERNEL_SP,      8
.equ TF_KERNEL_TRAP,   16
.equ TF_EPC,           24
.equ TF_KERNEL_HARTID, 32
.equ TF_RA,    40
.equ TF_A0,   112

# "op reg, slot(a0)" for every user register but a0, whose slot is TF_A0: a0 holds the
# trapframe's address while the others move.
.macro each_reg op
        .set    off, TF_RA
        .irp    reg, ra, sp, gp, tp, t0, t1, t2, s0, s1, a0, a1, a2, a3, a4, a5, a6, a7
        .ifnc   \reg, a0
        \op     \reg, off(a0)
        .endif
        .set    off, off + 8
        .endr
        .irp    reg, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, t3, t4, t5, t6
        \op     \reg, off(a0)
        .set    off, off + 8
        .endr
.endm

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

        each_reg sd
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
        each_reg ld
        ld      a0,  TF_A0(a0)

        sret                    # to user mode at sepc, interrupts back on
