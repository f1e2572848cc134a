// The platform-level interrupt controller: routes the UART and virtio disk
// interrupts to every hart's S-mode context, and claims/completes them.
#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/memlayout.h"
#include "kernel/riscv.h"
#include "kernel/defs.h"

// Priority 0 means "never interrupt"; any higher value beats threshold 0.
#define PLIC_PRIO_ENABLED 1
#define PLIC_THRESHOLD_ALL 0

static inline volatile uint32 *
plic_reg(uint64 addr)
{
  return (volatile uint32 *)addr;
}

void
plicinit(void)
{
  // One 32-bit priority word per interrupt source.
  *plic_reg(PLIC_PRIORITY + UART0_IRQ*4) = PLIC_PRIO_ENABLED;
  *plic_reg(PLIC_PRIORITY + VIRTIO0_IRQ*4) = PLIC_PRIO_ENABLED;
}

// Every hart accepts both devices: whichever claims first handles the
// interrupt, the others see claim 0.
void
plicinithart(void)
{
  int hart = cpuid();
  *plic_reg(PLIC_SENABLE(hart)) = (1 << UART0_IRQ) | (1 << VIRTIO0_IRQ);
  *plic_reg(PLIC_SPRIORITY(hart)) = PLIC_THRESHOLD_ALL;
}

// The highest-priority pending interrupt for this hart, or 0 if none.
int
plic_claim(void)
{
  return *plic_reg(PLIC_SCLAIM(cpuid()));
}

// Tell the PLIC this hart has finished with irq, so it may be raised again.
void
plic_complete(int irq)
{
  *plic_reg(PLIC_SCLAIM(cpuid())) = irq;
}
