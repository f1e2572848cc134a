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
        sd      ra,   0(sp)
        sd      t0,   8(sp)
        sd      t1,  16(sp)
        sd      t2,  24(sp)
        sd      a0,  32(sp)
        sd      a1,  40(sp)
        sd      a2,  48(sp)
        sd      a3,  56(sp)
        sd      a4,  64(sp)
        sd      a5,  72(sp)
        sd      a6,  80(sp)
        sd      a7,  88(sp)
        sd      t3,  96(sp)
        sd      t4, 104(sp)
        sd      t5, 112(sp)
        sd      t6, 120(sp)

        call    kerneltrap

        ld      ra,   0(sp)
        ld      t0,   8(sp)
        ld      t1,  16(sp)
        ld      t2,  24(sp)
        ld      a0,  32(sp)
        ld      a1,  40(sp)
        ld      a2,  48(sp)
        ld      a3,  56(sp)
        ld      a4,  64(sp)
        ld      a5,  72(sp)
        ld      a6,  80(sp)
        ld      a7,  88(sp)
        ld      t3,  96(sp)
        ld      t4, 104(sp)
        ld      t5, 112(sp)
        ld      t6, 120(sp)
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
