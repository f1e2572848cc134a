# Trap entry while executing in the kernel (stvec = kernelvec), plus the one-shot
# probe that tells timerinit() whether this hart may use the Sstc stimecmp CSR.

# Registers a C function may clobber: they are all kerneltrap() could change
# behind the interrupted code's back. Callee-saved ones are kept by kerneltrap.
# tp is deliberately not restored: if kerneltrap() yields, the thread may resume
# on another hart, and tp must keep naming the hart we are running on.
.equ KV_FRAME, 16*8

.section .text
.globl kerneltrap
.globl kernelvec
.balign 4
kernelvec:
        addi    sp, sp, -KV_FRAME
        .set    off, 0
        .irp    reg, ra, t0, t1, t2, a0, a1, a2, a3, a4, a5, a6, a7, t3, t4, t5, t6
        sd      \reg, off(sp)
        .set    off, off + 8
        .endr

        call    kerneltrap

        .set    off, 0
        .irp    reg, ra, t0, t1, t2, a0, a1, a2, a3, a4, a5, a6, a7, t3, t4, t5, t6
        ld      \reg, off(sp)
        .set    off, off + 8
        .endr
        addi    sp, sp, KV_FRAME
        sret

# int sstc_probe(void)
# Returns 1 if this hart can read and write stimecmp, 0 if that traps.
# Must be called with interrupts off. The probe leaves stimecmp at its
# maximum, so no timer interrupt is pending afterwards; the caller arms it.
.globl sstc_probe
sstc_probe:
        csrr    t0, stvec
        la      t1, sstc_probe_trap
        csrw    stvec, t1
        li      a0, 1
        csrr    t2, stimecmp
        li      t2, -1
        csrw    stimecmp, t2
        csrw    stvec, t0
        ret

# Reached only by an illegal-instruction trap from the two CSR accesses above
# (both 4-byte instructions): record the failure in a0 and skip the instruction.
.balign 4
sstc_probe_trap:
        csrr    t3, sepc
        addi    t3, t3, 4
        csrw    sepc, t3
        li      a0, 0
        sret
