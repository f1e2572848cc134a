// Sleep locks: held for long stretches (across disk I/O), so a waiter sleeps instead of
// spinning, and the holder may sleep too. Built on sleep/wakeup; lk->lk, a spin lock,
// guards the fields and is never held for long.

#include "kernel/types.h"
#include "kernel/riscv.h"
#include "kernel/defs.h"
#include "kernel/param.h"
#include "kernel/spinlock.h"
#include "kernel/proc.h"
#include "kernel/sleeplock.h"

void
initsleeplock(struct sleeplock *lk, char *name)
{
  *lk = (struct sleeplock){ .name = name };
  initlock(&lk->lk, "sleep lock");
}

// Sleep until lk is free, then hold it for the current process. Must be called from a
// process, with no spin lock held.
void
acquiresleep(struct sleeplock *lk)
{
  acquire(&lk->lk);
  if(lk->locked){
    // Counted before sleep() lets go of lk->lk, so the holder's release sees us.
    lk->waiters++;
    do
      sleep(lk, &lk->lk);
    while(lk->locked);
    lk->waiters--;
  }
  lk->locked = 1;
  lk->pid = myproc()->pid;
  release(&lk->lk);
}

// Let go of lk. Only when someone waits does it cost a wakeup (a pass over the process
// table): the common case, an uncontended inode or buffer lock, skips it.
void
releasesleep(struct sleeplock *lk)
{
  acquire(&lk->lk);
  lk->locked = 0;
  lk->pid = 0;
  if(lk->waiters > 0)
    wakeup(lk);
  release(&lk->lk);
}

// Does the current process hold lk?
int
holdingsleep(struct sleeplock *lk)
{
  acquire(&lk->lk);
  int mine = lk->locked && lk->pid == myproc()->pid;
  release(&lk->lk);
  return mine;
}
