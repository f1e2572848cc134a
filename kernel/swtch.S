# swtch(old, new): kernel context switch. Saves the callee-saved registers of the caller
# into *old (struct context, kernel/proc.h) and resumes whatever was saved in *new.
# Caller-saved registers need no saving: the C caller already assumes swtch clobbers them.

# Byte offsets of the fields of struct context.
.equ CTX_RA,    0
.equ CTX_SP,    8
.equ CTX_S0,   16
.equ CTX_S1,   24
.equ CTX_S2,   32
.equ CTX_S3,   40
.equ CTX_S4,   48
.equ CTX_S5,   56
.equ CTX_S6,   64
.equ CTX_S7,   72
.equ CTX_S8,   80
.equ CTX_S9,   88
.equ CTX_S10,  96
.equ CTX_S11, 104

.section .text
.globl swtch
swtch:
        # a0 = old context, a1 = new context
        sd ra,  CTX_RA(a0)
        sd sp,  CTX_SP(a0)
        sd s0,  CTX_S0(a0)
        sd s1,  CTX_S1(a0)
        sd s2,  CTX_S2(a0)
        sd s3,  CTX_S3(a0)
        sd s4,  CTX_S4(a0)
        sd s5,  CTX_S5(a0)
        sd s6,  CTX_S6(a0)
        sd s7,  CTX_S7(a0)
        sd s8,  CTX_S8(a0)
        sd s9,  CTX_S9(a0)
        sd s10, CTX_S10(a0)
        sd s11, CTX_S11(a0)

        ld ra,  CTX_RA(a1)
        ld sp,  CTX_SP(a1)
        ld s0,  CTX_S0(a1)
        ld s1,  CTX_S1(a1)
        ld s2,  CTX_S2(a1)
        ld s3,  CTX_S3(a1)
        ld s4,  CTX_S4(a1)
        ld s5,  CTX_S5(a1)
        ld s6,  CTX_S6(a1)
        ld s7,  CTX_S7(a1)
        ld s8,  CTX_S8(a1)
        ld s9,  CTX_S9(a1)
        ld s10, CTX_S10(a1)
        ld s11, CTX_S11(a1)

        # return to the new context's ra, on its stack
        ret
