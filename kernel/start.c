// C entry point of every hart, reached from entry.S on the hart's boot stack:
// establishes the per-hart invariants the rest of the kernel relies on, then runs main().
#include "kernel/types.h"
#include "kernel/riscv.h"

void main(int boot);
void start(uint64 hartid, int boot) __attribute__((noreturn));

// scounteren bit that lets user mode read the time CSR (rdtime).
#define SCOUNTEREN_TM (1L << 1)

void
start(uint64 hartid, int boot)
{
  // cpuid() reads tp, so it must hold the hart id before any C code asks.
  // The kernel never lets user code keep its own tp value while in the kernel
  // (trampoline.S reloads it from the trapframe).
  w_tp(hartid);

  // Nothing may interrupt us until this hart's trap vector is installed.
  intr_off();
  w_sie(0);
  w_sscratch(0);
  w_scounteren(r_scounteren() | SCOUNTEREN_TM);

  main(boot);
  for(;;)
    ;
}
