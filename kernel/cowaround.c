// COW fault-around: after a copy-on-write fault (cow.c), resolve more COW pages of the same
// last-level table at once, since a trap costs far more than a REUSE and about as much as
// a COPY. Built with make COWBATCH=1 (the default): cow_fault() calls it, fork resets it.
//
// This file picks the pages; cow_resolve_run() (cow.c) resolves each as its own fault
// would, REUSE or COPY. Two ways:
//  - copy-ahead: after faults at ascending neighbouring pages, a window of pages above the
//    faulting one, doubling with each such fault (1, 2, 4, ... a table), as read-ahead
//    does for files. It copies only while memory is plentiful.
//  - reuse-around: after a REUSE, the pages on both sides whose count is 1, each way up to
//    the first one still shared (beyond it, most likely all are: a fork-then-exec child
//    leaves its parent mapping every neighbour).
// Safe without a lock for decide()'s reasons (cow.c): a count-1 page is ours alone while we
// are in this fault, and a page copied now is what our later fault would copy. Only the
// faulting process's own table changes (only a process stores into its COW pages; exec's
// copyout goes to fresh pages), and the return to user space flushes the TLB.

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/riscv.h"
#include "kernel/spinlock.h"
#include "kernel/proc.h"
#include "kernel/defs.h"

// Copy-ahead copies only while more than this fraction of all pages is free (1/8: 16 MiB
// of 128), so pages nobody asked for yet never take the last memory from a process.
#define AHEAD_MIN_FREE_DIVISOR 8

// How many entries of the table whose entry at maps va lie in p's memory [0, p->sz):
// there are no valid ones above.
static int
inuse(struct proc *p, uint64 va, int at)
{
  uint64 n = (PGROUNDUP(p->sz) - (va - (uint64)at * PGSIZE)) / PGSIZE;
  return n < NPTE ? n : NPTE;
}

// Copy-ahead's window: the entries from at up to (not including) the returned index, at most n. A
// fault at the page just above the last window doubles it; any other starts again at 1, the
// faulting page alone. The state is p's (proc.h), changed only here and by cow_seqreset().
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

// The fault at va has just resolved its page, whose PTE is pte (reused: by REUSE).
void
cow_around(pte_t *pte, uint64 va, int reused)
{
  struct proc *p = myproc();
  pte_t *table = (pte_t *)PGROUNDDOWN((uint64)pte);
  int at = pte - table, n = inuse(p, va, at);
  int plentiful = kfreepages() > ktotalpages() / AHEAD_MIN_FREE_DIVISOR;

  cow_resolve_run(table, at + 1, window(p, va, at, n), 1, plentiful);
  if(reused){
    cow_resolve_run(table, at - 1, -1, -1, 0);
    cow_resolve_run(table, at + 1, n, 1, 0);
  }
}
