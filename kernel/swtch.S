# swtch(old, new): kernel context switch. Saves the callee-saved registers of the caller
# into *old (struct context, kernel/proc.h) and resumes whatever was saved in *new.
# Caller-saved registers need no saving: the C caller already assumes swtch clobbers them.

.section .text
.globl swtch
swtch:
        # a0 = old context, a1 = new context. struct context holds these registers in this
        # order, 8 bytes each. Each is saved before it is loaded, so one pass does both.
        .set    off, 0
        .irp    reg, ra, sp, s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11
        sd      \reg, off(a0)
        ld      \reg, off(a1)
        .set    off, off + 8
        .endr

        # return to the new context's ra, on its stack
        ret
