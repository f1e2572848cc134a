// The platform-level interrupt controller: routes the UART and virtio disk
// interrupts to every hart's S-mode context, and claims/completes them.
#include "kernel/types.h"
#include "kernel/memlayout.h"
#include "kernel/riscv.h"
#include "kernel/defs.h"

// Priority 0 means "never interrupt"; any higher value beats threshold 0.
#define PLIC_PRIO_ENABLED 1
#define PLIC_THRESHOLD_ALL 0

// The interrupt sources the kernel handles (devintr() in trap.c knows each one).
static const int plic_sources[] = { UART0_IRQ, VIRTIO0_IRQ };

// Every PLIC register is a 32-bit word.
#define PLIC_REG(addr) (*(volatile uint32 *)(addr))

// This hart's S-mode claim/complete register: reading it claims, writing completes.
#define MY_SCLAIM PLIC_REG(PLIC_SCLAIM(cpuid()))

// Once, on the boot hart: give each of our sources a non-zero priority (one word each).
void
plicinit(void)
{
  for(int i = 0; i < NELEM(plic_sources); i++)
    PLIC_REG(PLIC_PRIORITY + 4 * plic_sources[i]) = PLIC_PRIO_ENABLED;
}

// On each hart: accept all our sources and let every priority through. Every hart takes
// every device interrupt; the first to claim it handles it, the others claim 0.
void
plicinithart(void)
{
  uint32 enable = 0;

  for(int i = 0; i < NELEM(plic_sources); i++)
    enable |= 1U << plic_sources[i];
  PLIC_REG(PLIC_SENABLE(cpuid())) = enable;
  PLIC_REG(PLIC_SPRIORITY(cpuid())) = PLIC_THRESHOLD_ALL;
}

// The IRQ this hart should handle now, or 0 if another hart already claimed it.
int
plic_claim(void)
{
  return MY_SCLAIM;
}

// This hart is done with irq: the PLIC may deliver it again.
void
plic_complete(int irq)
{
  MY_SCLAIM = irq;
}
