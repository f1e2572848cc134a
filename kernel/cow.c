// Copy-on-write fork: sharing a parent's pages with its child (cow_share_table), resolving
// the first write to a shared page (cow_fault) and its neighbours with it (the batch), and
// the COW statistics (cow_stats).
//
// The rules, stated once:
//
//  The mark. PTE_COW is RSW bit 8 of a PTE, a bit the hardware ignores. A page is COW
//  when it was writable and is now shared read-only: its PTE has PTE_COW set and PTE_W
//  clear. PTE_COW and PTE_W are never set together. A page that was never writable
//  (text, rodata) is shared as it is, without the mark, and a write to it is an error
//  forever. cow_pte() below is the one place that decides a shared PTE's value.
//
//  The counts. kalloc.c keeps one reference count per physical page: one reference per
//  mapping. kalloc() makes a page with count 1; fork adds one for every page the child
//  now maps too (krefinc_ptes, a leaf table at a time); every unmapping drops one
//  (kfree, or kfree_ptes at exit), and whoever drops it to 0 frees the page. Every change
//  is one atomic read-modify-write with the default (sequentially consistent) ordering;
//  no lock protects the counts, and this file holds no lock.
//
//  The fault. A store to a page without PTE_W traps (or copyout() finds PTE_W clear);
//  vm.c walks the page table once and hands the PTE it found to cow_fault(). If the page
//  is COW, the fault has one of two outcomes, chosen by decide():
//    REUSE  the count is 1: this mapping is the page's only user, so PTE_W is restored
//           and PTE_COW cleared in place. No copy, no allocation.
//    COPY   the count is above 1: allocate a page, copy the old one into it, map the new
//           page writable (PTE_COW cleared), then drop this mapping's reference to the old.
//
//  The batch. A trap costs far more than the REUSE it leads to, and about as much as a
//  COPY, so once the faulting page is done, cow_batch() resolves some other COW pages of
//  the same last-level table the same way, each by decide(): after a REUSE, the pages
//  around it whose count is 1 (reuse-around); after a run of faults at ascending
//  neighbouring pages, a window of pages above the faulting one that doubles with each
//  such fault (copy-ahead, as read-ahead does for files). Everything it does is what a
//  later fault on that page would do; it only does it sooner.
//
//  The TLB. Whenever a PTE loses a permission (fork's downgrade of the parent) the hart
//  flushes before the address space runs again (uvmcopy, once per fork); after
//  a fault changes PTEs we flush too, though they only gained PTE_W (a stale read-only
//  entry would fault again): that address, or everything once for a batch. Other
//  harts cannot hold stale entries for a running process: a process runs on one hart at a
//  time, and every return to user space flushes the user translations (trampoline.S).

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/memlayout.h"
#include "kernel/riscv.h"
#include "kernel/spinlock.h"
#include "kernel/proc.h"
#include "kernel/memstat.h"
#include "kernel/defs.h"

// Copy-ahead allocates only while more than this fraction of all pages is free (1/8:
// 16 MiB of the default 128), so that pages copied before they are written never take
// the last free memory from a process that needs it now.
#define AHEAD_MIN_FREE_DIVISOR 8

// Since boot; atomic adds, because faults on many harts bump them at once. A page the
// batch resolves counts as a copy or a reuse, and as batched instead of as a fault, so
// copies + reuses = faults + batched. The adds come in that order (faults and batched
// first) and cow_stats() reads in the opposite order, so no snapshot shows a page
// without its fault or batch.
static struct {
  uint64 faults;   // COW faults resolved
  uint64 batched;  // pages resolved with another page's fault (cow_batch)
  uint64 copies;   // pages resolved by COPY
  uint64 reuses;   // pages resolved by REUSE
  uint64 shared;   // page mappings shared by fork
} cowstat;

static void
count(uint64 *counter, uint64 n)
{
  __atomic_fetch_add(counter, n, __ATOMIC_SEQ_CST);
}

// The value both parent and child get for a page the parent maps with PTE pte: a
// writable page becomes read-only + PTE_COW; a read-only one (COW already, or never
// writable) keeps its flags.
static pte_t
cow_pte(pte_t pte)
{
  if(pte & PTE_W)
    pte = (pte & ~PTE_W) | PTE_COW;
  return pte;
}

// Share the first n entries of one last-level table of the parent with the same entries
// of the child's table (fresh: all zero). For every valid parent PTE: write the shared
// value into the child's entry and downgrade the parent's; then add one to the count of
// every page the child's entries now map, in one call for the table. The parent's
// entries may have lost PTE_W: uvmcopy (vm.c) flushes the TLB once, after the last
// table. Cannot fail: uvmcopy allocates the child's table first.
void
cow_share_table(pte_t *parent, pte_t *child, int n)
{
  for(int i = 0; i < n; i++){
    pte_t pte = parent[i];
    if(pte & PTE_V)
      child[i] = parent[i] = cow_pte(pte);
  }
  count(&cowstat.shared, krefinc_ptes(child, n));
}

// Forget what p's COW faults so far said about where it writes: fork calls this for
// parent and child, since what they share has just changed. (exec needs no call: its
// fresh pages are not COW, and only a fork can make them so.)
void
cow_seqreset(struct proc *p)
{
  p->cownext = MAXVA;   // never a user page: the next fault is not sequential
  p->cowwindow = 1;
}

// The decision a COW fault makes for the page at pa.
enum cow_outcome { REUSE, COPY };

// Why acting on a count read with no lock held is safe, with sharers faulting at once
// on several harts:
//  - A count can only rise through fork, i.e. through a process that maps the page. If we
//    read 1, the only mapping is ours, and our process is busy in this fault, so it can't
//    fork: the count stays 1 and REUSE cannot race with anyone.
//  - If we read more than 1, other sharers may drop theirs meanwhile; then we copy when
//    REUSE would have done. That wastes one copy but is correct, and the last kfree()
//    frees the old page.
//  - Nobody writes the old page while we copy it: a writer would need to read count 1,
//    which it can only do after our kfree(), and that comes after the copy. The counts'
//    sequentially consistent atomics make our reads happen before its writes.
static enum cow_outcome
decide(uint64 pa)
{
  return krefcount((void *)pa) == 1 ? REUSE : COPY;
}

// Carry out outcome how for the COW page whose PTE is pte: the one step a fault and the
// batch both take for a page. 0, or -1 if COPY found no free page (then nothing changed).
// The caller counts the page and flushes the TLB.
static int
resolve(pte_t *pte, enum cow_outcome how)
{
  uint64 old = PTE2PA(*pte);
  uint64 flags = (PTE_FLAGS(*pte) | PTE_W) & ~PTE_COW;

  switch(how){
  case REUSE:
    *pte = PA2PTE(old) | flags;
    break;
  case COPY: {
    char *mem = kalloc();
    if(mem == 0)
      return -1;
    memmove(mem, (void *)old, PGSIZE);
    *pte = PA2PTE(mem) | flags;
    kfree((void *)old);   // only after the copy: see decide()
    break;
  }
  }
  return 0;
}

// ---------------------------------------------------------------- the batch

// Is pte a COW page the process may write (the guard page has no PTE_U: never touched)?
static int
iscow(pte_t pte)
{
  return (pte & (PTE_V | PTE_U | PTE_W | PTE_COW)) == (PTE_V | PTE_U | PTE_COW);
}

// Pages resolved by the batch, by outcome.
struct tally {
  int reuses, copies;
};

// How many entries of the last-level table whose entry at maps va lie in p's user memory
// [0, p->sz): the batch looks at no others (there are none valid above p->sz).
static int
inuse(struct proc *p, uint64 va, int at)
{
  uint64 n = (PGROUNDUP(p->sz) - (va - (uint64)at * PGSIZE)) / PGSIZE;
  return n < NPTE ? n : NPTE;
}

// Copy-ahead: the entries of the faulting page's table it resolves along with it, from
// its index at up to (not including) the returned index, at most n. A fault at the page
// just above the last window continues the sequence and doubles the window (1, 2, 4, ...
// up to a whole table); any other fault starts again at 1, the faulting page alone.
// Ascending only: descending writes are rare (the user stack is one page). The state
// lives in p (proc.h), which only p's own faults change, here.
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

// Is memory plentiful enough to copy a page no fault has asked for yet?
static int
plentiful(void)
{
  return kfreepages() > ktotalpages() / AHEAD_MIN_FREE_DIVISOR;
}

// Resolve the COW pages among table[from..to) by decide(), in order. A COPY stops the
// run when memory is not plentiful, or when kalloc() fails: these pages were not asked
// for, so running out only ends the batch, never fails the fault.
static void
ahead(pte_t *table, int from, int to, struct tally *t)
{
  for(int i = from; i < to; i++){
    if(!iscow(table[i]))
      continue;
    enum cow_outcome how = decide(PTE2PA(table[i]));
    if(how == COPY && !plentiful())
      return;
    if(resolve(&table[i], how) < 0)
      return;
    if(how == REUSE)
      t->reuses++;
    else
      t->copies++;
  }
}

// One step of reuse-around, for the entry pte: give a COW page whose count is 1 its write
// permission back. 1 to go on (reused, or not a COW page), 0 to stop (still shared).
static int
reuse_one(pte_t *pte, struct tally *t)
{
  if(!iscow(*pte))
    return 1;
  if(decide(PTE2PA(*pte)) != REUSE)
    return 0;
  resolve(pte, REUSE);
  t->reuses++;
  return 1;
}

// Reuse-around: the COW pages among table[0..n) on both sides of the faulting page's
// entry at whose count is 1, each way up to the first COW page that is still shared.
// Pages beyond a shared one are most likely shared too (a fork-then-exec child's stack
// fault finds its parent still mapping every neighbour), and checking each costs more
// than the fault it might save.
static void
around(pte_t *table, int n, int at, struct tally *t)
{
  for(int i = at - 1; i >= 0 && reuse_one(&table[i], t); i--)
    ;
  for(int i = at + 1; i < n && reuse_one(&table[i], t); i++)
    ;
}

// The batch, after the fault at va (PTE pte, resolved by how). It may change only COW
// PTEs of the process's own last-level table that holds pte, and only as a fault on that
// page would: REUSE for a count of 1, COPY otherwise. That is safe for the same reasons
// as decide() is, with no lock: a count-1 page is ours alone and stays so while we are
// in this fault (only we could fork); a page with count above 1 that we copy now is
// exactly what our later fault on it would copy, and nobody writes the old page
// meanwhile. The page table is the current process's (p): COW pages exist only in
// address spaces fork shared, and only their own process stores into them (exec's
// copyout goes to fresh pages). Returns how many pages it resolved; the caller flushes.
static int
cow_batch(pte_t *pte, uint64 va, enum cow_outcome how)
{
#ifdef COW_ONE_PAGE
  return 0;   // make COWBATCH=0: one page per fault, to measure the batch against
#endif
  struct proc *p = myproc();
  pte_t *table = (pte_t *)PGROUNDDOWN((uint64)pte);
  int at = pte - table, n = inuse(p, va, at);
  struct tally t = { 0, 0 };

  ahead(table, at + 1, window(p, va, at, n), &t);
  if(how == REUSE)
    around(table, n, at, &t);
  int done = t.reuses + t.copies;
  if(done > 0){
    count(&cowstat.batched, done);
    count(&cowstat.reuses, t.reuses);
    count(&cowstat.copies, t.copies);
  }
  return done;
}

// ---------------------------------------------------------------- the fault

// Resolve a store to the user page at va, whose PTE (valid, PTE_U, PTE_W clear) vm.c
// found at pte. FAULT_OK: the store will now succeed. FAULT_NOMEM: no page for the
// copy; nothing was changed and nothing leaked. FAULT_BAD: not a COW page, so the
// page is not writable at all.
int
cow_fault(pte_t *pte, uint64 va)
{
  if((*pte & PTE_COW) == 0)
    return FAULT_BAD;

  enum cow_outcome how = decide(PTE2PA(*pte));
  if(resolve(pte, how) < 0)
    return FAULT_NOMEM;
  count(&cowstat.faults, 1);
  count(how == REUSE ? &cowstat.reuses : &cowstat.copies, 1);

  if(cow_batch(pte, va, how) > 0)
    sfence_vma();         // one flush for the whole batch
  else
    sfence_vma_va(va);
  return FAULT_OK;
}

// Fill in memstat()'s copy-on-write counters; sys_memstat() fills the allocator's.
// Read in the opposite order of the adds: see cowstat.
void
cow_stats(struct memstat *st)
{
  st->cowcopies = __atomic_load_n(&cowstat.copies, __ATOMIC_SEQ_CST);
  st->cowreuses = __atomic_load_n(&cowstat.reuses, __ATOMIC_SEQ_CST);
  st->cowfaults = __atomic_load_n(&cowstat.faults, __ATOMIC_SEQ_CST);
  st->cowshared = __atomic_load_n(&cowstat.shared, __ATOMIC_SEQ_CST);
}
