# First kernel instructions on every hart: pick a boot stack by hart id and call start().
# The boot hart (from OpenSBI) also clears the bss; secondary harts arrive via SBI hart_start.
#include "kernel/param.h"

# Each hart gets its own boot stack; the boot stack is also the stack the
# hart's scheduler runs on for the whole life of the system.
.equ BOOT_STACK_SIZE, 16384

.section .text.entry
.globl _entry
_entry:
        # a0 = hart id, a1 = device tree (unused). Paging is off, interrupts are off.
        li      t0, NCPU
        bgeu    a0, t0, park

        # Clear the bss before any C code runs; only the boot hart gets here
        # and the others are still stopped, so nobody is using it yet.
        la      t1, bss_start
        la      t2, bss_end
clear_bss:
        bgeu    t1, t2, bss_done
        sd      zero, 0(t1)
        addi    t1, t1, 8
        j       clear_bss
bss_done:
        li      a1, 1
        j       set_stack

.globl _entry_secondary
_entry_secondary:
        # Entered through SBI HSM hart_start: a0 = hart id, a1 = opaque, paging off.
        li      t0, NCPU
        bgeu    a0, t0, park
        li      a1, 0

set_stack:
        # sp = boot_stacks + (hartid + 1) * BOOT_STACK_SIZE: stacks grow down.
        la      sp, boot_stacks
        li      t0, BOOT_STACK_SIZE
        addi    t1, a0, 1
        mul     t0, t0, t1
        add     sp, sp, t0
        call    start           # start(hartid, boot) never returns

park:
        # A hart we have no room for (id >= NCPU) or a start() that returned.
        wfi
        j       park

.section .bss
.balign 16
.globl boot_stacks
boot_stacks:
        .space  BOOT_STACK_SIZE * NCPU
