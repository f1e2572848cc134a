// Spin locks, and the nestable interrupt switch (push_off/pop_off) under them. A hart
// keeps interrupts off for as long as it holds any spin lock: otherwise an interrupt
// handler on the same hart could spin forever on a lock its interrupted code holds.

#include "kernel/types.h"
#include "kernel/param.h"
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

// Spin until this hart holds lk. Interrupts stay off until the matching release().
void
acquire(struct spinlock *lk)
{
  push_off();
  if(holding(lk))
    panic("acquire: this hart already holds the lock (it would spin forever)");

  for(;;){
    // amoswap.w.aq: set locked and learn whether it was already set.
    if(__atomic_exchange_n(&lk->locked, 1, __ATOMIC_ACQUIRE) == 0)
      break;
    // Held elsewhere: wait with loads only, so that waiting harts do not keep pulling
    // the lock's cache line away from the holder, and try again once it looks free.
    while(__atomic_load_n(&lk->locked, __ATOMIC_RELAXED) != 0)
      ;
  }
  // A full fence, device registers included: nothing in the critical section may take
  // effect before we hold the lock.
  __sync_synchronize();
  lk->cpu = mycpu();
}

void
release(struct spinlock *lk)
{
  if(!holding(lk))
    panic("release: this hart does not hold the lock");
  lk->cpu = 0;
  // Release order (a fence, device registers included, then the store): everything
  // the critical section did is visible before the lock reads as free.
  __atomic_store_n(&lk->locked, 0, __ATOMIC_RELEASE);
  pop_off();
}

// Does this hart hold lk? lk->cpu is set only by the holder, right after it takes lk,
// and cleared before it lets go, so it names this hart exactly when this hart holds lk.
// Interrupts must be off, so that "this hart" cannot change under the caller.
int
holding(struct spinlock *lk)
{
  return lk->cpu == mycpu();
}

// Interrupts off, nestably. The outermost push_off() notes whether they were on; the pop_off()
// that undoes it turns them back on only then. mycpu() is safe once they are off.
void
push_off(void)
{
  int was_on = intr_get();
  intr_off();
  struct cpu *c = mycpu();
  if(c->noff++ == 0)
    c->intena = was_on;
}

void
pop_off(void)
{
  struct cpu *c = mycpu();
  if(intr_get() || c->noff < 1)
    panic("pop_off: interrupts came on inside push_off, or no push_off to undo");
  if(--c->noff == 0 && c->intena)
    intr_on();
}
