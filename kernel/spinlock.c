// Spin locks, and the per-hart interrupt-disable nesting (push_off/pop_off) they rely on.
// A hart holding a spin lock always has interrupts off, so an interrupt handler on the
// same hart can never spin forever on a lock its own interrupted code holds.

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/memlayout.h"
#include "kernel/spinlock.h"
#include "kernel/riscv.h"
#include "kernel/proc.h"
#include "kernel/defs.h"

void
initlock(struct spinlock *lk, char *name)
{
  lk->name = name;
  lk->locked = 0;
  lk->cpu = 0;
}

// Spin until the lock is ours. Interrupts stay off until the matching release().
void
acquire(struct spinlock *lk)
{
  push_off();
  if(holding(lk))
    panic("acquire: lock already held by this hart");

  // amoswap.w.aq: atomically store 1 and look at what was there before.
  while(__sync_lock_test_and_set(&lk->locked, 1) != 0)
    ;

  // Full fence: nothing in the critical section may be performed before we own the lock.
  __sync_synchronize();

  lk->cpu = mycpu();
}

void
release(struct spinlock *lk)
{
  if(!holding(lk))
    panic("release: lock not held by this hart");

  lk->cpu = 0;

  // Full fence: every store of the critical section is visible before the lock looks free.
  __sync_synchronize();

  // amoswap.w.rl of 0; a plain store could be split or reordered by the compiler.
  __sync_lock_release(&lk->locked);

  pop_off();
}

// Does this hart hold the lock? Interrupts must be off, or the answer could go stale.
int
holding(struct spinlock *lk)
{
  return lk->locked && lk->cpu == mycpu();
}

// push_off/pop_off nest like parentheses: interrupts come back on only at the outermost
// pop_off, and only if they were on at the outermost push_off.
void
push_off(void)
{
  int was_on = intr_get();

  intr_off();
  struct cpu *c = mycpu();
  if(c->noff == 0)
    c->intena = was_on;
  c->noff += 1;
}

void
pop_off(void)
{
  struct cpu *c = mycpu();

  if(intr_get())
    panic("pop_off: interrupts enabled");
  if(c->noff < 1)
    panic("pop_off: not pushed");
  c->noff -= 1;
  if(c->noff == 0 && c->intena)
    intr_on();
}
