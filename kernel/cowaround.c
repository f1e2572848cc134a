// COW fault-around: after a copy-on-write fault (cow.c), resolve more COW pages of the same
// last-level table at once, since a trap costs far more than a REUSE and about as much as
// a COPY. Built with make COWBATCH=1 (the default): cow_fault() calls it, fork resets it.
//
// Two ways, each page by cow_decide() as its own fault would:
//  - copy-ahead: after faults at ascending neighbouring pages, a window of pages above the
//    faulting one, doubling with each such fault (1, 2, 4, ... a table), as read-ahead
//    does for files. It copies only while memory is plentiful.
//  - reuse-around: after a REUSE, the pages on both sides whose count is 1, each way up to
//    the first one still shared (beyond it, most likely all are: a fork-then-exec child
//    leaves its parent mapping every neighbour).
// Safe without a lock for cow_decide()'s reasons: a count-1 page is ours alone while we are
// in this fault, and a page copied now is what our later fault would copy. Only the
// faulting process's own table changes (only a process stores into its COW pages; exec's
// copyout goes to fresh pages), and the return to user space flushes the TLB (cow.c).

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/memlayout.h"
#include "kernel/riscv.h"
#include "kernel/spinlock.h"
#include "kernel/proc.h"
#include "kernel/defs.h"

// Copy-ahead copies only while more than this fraction of all pages is free (1/8: 16 MiB
// of 128), so pages nobody asked for yet never take the last memory from a process.
#define AHEAD_MIN_FREE_DIVISOR 8

// Pages resolved here, by outcome.
struct tally {
  int reuses, copies;
};

// Is pte a COW page the process may write (the guard page has no PTE_U: never touched)?
static int
iscow(pte_t pte)
{
  return (pte & (PTE_V | PTE_U | PTE_W | PTE_COW)) == (PTE_V | PTE_U | PTE_COW);
}

// Resolve the COW page at pte by outcome how and count it. 0, or -1 if no page was free.
static int
resolve(pte_t *pte, enum cow_outcome how, struct tally *t)
{
  if(cow_resolve(pte, how) < 0)
    return -1;
  if(how == REUSE)
    t->reuses++;
  else
    t->copies++;
  return 0;
}

// How many entries of the table whose entry at maps va lie in p's memory [0, p->sz):
// there are no valid ones above.
static int
inuse(struct proc *p, uint64 va, int at)
{
  uint64 n = (PGROUNDUP(p->sz) - (va - (uint64)at * PGSIZE)) / PGSIZE;
  return n < NPTE ? n : NPTE;
}

// Copy-ahead's window: the entries from at up to (not including) the returned index, at
// most n. A fault at the page just above the last window doubles it; any other starts
// again at 1, the faulting page alone. The state is p's (proc.h), changed only here and
// by cow_seqreset().
static int
window(struct proc *p, uint64 va, int at, int n)
{
  int w = 1;
  if(va == p->cownext)
    w = p->cowwindow < NPTE ? 2 * p->cowwindow : NPTE;
  int end = at + w < n ? at + w : n;
  p->cowwindow = w;
  p->cownext = va + (uint64)(end - at) * PGSIZE;
  return end;
}

// fork, for parent and child: what they share has just changed, so no fault so far says
// where they write next. A fork-then-exec child's one stack write copies one page.
void
cow_seqreset(struct proc *p)
{
  p->cownext = MAXVA;   // never a user page: the next fault is not sequential
  p->cowwindow = 1;
}

// Copy-ahead over table[from..to): stops at a COPY when memory is not plentiful or
// kalloc() fails, since these pages were not asked for; the fault itself has succeeded.
static void
ahead(pte_t *table, int from, int to, struct tally *t)
{
  for(int i = from; i < to; i++){
    if(!iscow(table[i]))
      continue;
    enum cow_outcome how = cow_decide(PTE2PA(table[i]));
    if(how == COPY && kfreepages() <= ktotalpages() / AHEAD_MIN_FREE_DIVISOR)
      return;
    if(resolve(&table[i], how, t) < 0)
      return;
  }
}

// One step of reuse-around: 1 to go on (reused, or not a COW page), 0 to stop (shared).
static int
reuse_one(pte_t *pte, struct tally *t)
{
  if(!iscow(*pte))
    return 1;
  return cow_decide(PTE2PA(*pte)) == REUSE && resolve(pte, REUSE, t) == 0;
}

// The fault at va has just resolved its page (PTE pte) by how: resolve more of its table.
void
cow_around(pte_t *pte, uint64 va, enum cow_outcome how)
{
  struct proc *p = myproc();
  pte_t *table = (pte_t *)PGROUNDDOWN((uint64)pte);
  int at = pte - table, n = inuse(p, va, at);
  struct tally t = { 0, 0 };

  ahead(table, at + 1, window(p, va, at, n), &t);
  if(how == REUSE){
    for(int i = at - 1; i >= 0 && reuse_one(&table[i], &t); i--)
      ;
    for(int i = at + 1; i < n && reuse_one(&table[i], &t); i++)
      ;
  }
  cow_tally(t.reuses, t.copies);
}
