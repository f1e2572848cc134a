// Copy-on-write fork: fork shares the parent's pages with the child (cow_share_table), the
// first store to a shared page gets the writer a page of its own (cow_fault), and the
// counters memstat() reports (cow_stats).
//
// The rules, stated once:
//
//  The mark. PTE_COW is the software bit RSW0 of a PTE (riscv.h), which the hardware
//  ignores. A page is COW when it was writable and is now shared read-only: PTE_COW set,
//  PTE_W clear; the two are never set together. A page that was never writable (text,
//  rodata) is shared as it is, without the mark, and a store to it is refused forever.
//
//  The counts. kalloc.c's rules (one reference per mapping, atomic, no lock): fork adds one
//  for every page the child maps too; every unmapping drops one; the drop to 0 frees the page.
//
//  The fault. A store to a page without PTE_W traps, and copyout() checks PTE_W before it
//  writes through the kernel's own mapping: both reach useraccess() (vm.c), which walks
//  the page table once and hands the PTE to cow_fault(). A COW page has two outcomes,
//  chosen by decide():
//    REUSE  the count is 1: this mapping is the page's only user, so PTE_W is restored
//           and PTE_COW cleared in place. No copy, no allocation.
//    COPY   the count is above 1: allocate a page, copy the old one into it, map the new
//           page writable without PTE_COW, then drop this mapping's reference to the old.
//  With fault-around built in (cowaround.c) the fault then resolves neighbouring COW pages
//  of the same table the same way, as their own faults later would.
//
//  The TLB. Nothing here flushes, for the reason in vm.c's header: fork's downgrade of the
//  parent's PTEs, and a fault's upgrade, are in force before the process runs user code.
//
//  The counters. Since boot, atomic adds: faults counts COW faults, copies and reuses count
//  pages by outcome (fault-around's too, so copies + reuses >= faults), shared counts the
//  mappings fork shared. Outcomes are added before their fault and cow_stats() reads the
//  faults first, so no snapshot shows a fault without its outcome.

#include "kernel/types.h"
#include "kernel/riscv.h"
#include "kernel/memstat.h"
#include "kernel/defs.h"

static struct {
  uint64 faults;   // COW faults resolved
  uint64 copies;   // pages resolved by COPY
  uint64 reuses;   // pages resolved by REUSE
  uint64 shared;   // page mappings shared by fork
} cowstat;

static void
count(uint64 *counter, uint64 n)
{
  if(n > 0)
    __atomic_fetch_add(counter, n, __ATOMIC_SEQ_CST);
}

static uint64
counted(uint64 *counter)
{
  return __atomic_load_n(counter, __ATOMIC_SEQ_CST);
}

// The value both parent and child get for a page the parent maps with PTE pte: a writable page
// becomes read-only + PTE_COW; a read-only one (COW already, or never writable) keeps its flags.
static pte_t
cow_pte(pte_t pte)
{
  if(pte & PTE_W)
    pte = (pte & ~PTE_W) | PTE_COW;
  return pte;
}

// Share the first n entries of one last-level table of the parent with the same entries of
// the child's (fresh, all-zero) table: both get cow_pte()'s value, then every page the
// child now maps gains a reference, in one call for the table. Cannot fail: uvmcopy (vm.c)
// allocated the child's table already.
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

// What a store to a COW page does.
enum cow_outcome { REUSE, COPY };

// The outcome for a COW page at pa. Acting on a count read without a lock is safe with
// sharers faulting at once on several harts:
//  - A count rises only through fork, by a process that maps the page. If we read 1, the
//    only mapping is ours and our process is busy in this fault, so it cannot fork: the
//    count stays 1 and REUSE races with nobody.
//  - If we read more than 1, the other sharers may drop theirs meanwhile; then we copy
//    where REUSE would have done: one wasted copy, still correct, and the last kfree()
//    frees the old page.
//  - Nobody writes the old page while we copy it: a writer would have to read count 1,
//    which happens only after our kfree(), and that comes after the copy.
static enum cow_outcome
decide(uint64 pa)
{
  return krefcount((void *)pa) == 1 ? REUSE : COPY;
}

// COPY for the COW page whose PTE is pte: the PTE maps a writable copy of the page, and this
// mapping's reference to the old one is dropped. -1 if no page is free (then nothing changed).
static int
copy(pte_t *pte)
{
  uint64 old = PTE2PA(*pte);
  char *mem = kalloc();
  if(mem == 0)
    return -1;
  memmove(mem, (void *)old, PGSIZE);
  *pte = PA2PTE(mem) | ((PTE_FLAGS(*pte) | PTE_W) & ~PTE_COW);
  kfree((void *)old);   // only after the copy: see decide()
  return 0;
}

// Carry out outcome how for the COW page whose PTE is pte. 0, or -1 if COPY found no free
// page (then nothing changed).
static int
resolve(pte_t *pte, enum cow_outcome how)
{
  if(how == COPY)
    return copy(pte);
  *pte = (*pte | PTE_W) & ~PTE_COW;   // REUSE: the page is ours alone, so write in place
  return 0;
}

// Count pages resolved, by outcome: before their fault is counted (see cowstat).
static void
tally(int reuses, int copies)
{
  count(&cowstat.reuses, reuses);
  count(&cowstat.copies, copies);
}

// Resolve a store to the user page at va, whose PTE (valid, PTE_U, PTE_W clear) vm.c found
// at pte. FAULT_OK: the store will now succeed. FAULT_NOMEM: no page for the copy; nothing
// changed and nothing leaked. FAULT_BAD: not a COW page, so not writable at all.
int
cow_fault(pte_t *pte, uint64 va)
{
  if((*pte & PTE_COW) == 0)
    return FAULT_BAD;

  enum cow_outcome how = decide(PTE2PA(*pte));
  if(resolve(pte, how) < 0)
    return FAULT_NOMEM;
  tally(how == REUSE, how == COPY);
  count(&cowstat.faults, 1);
#ifdef COW_AROUND
  cow_around(pte, va, how == REUSE);
#endif
  return FAULT_OK;
}

#ifdef COW_AROUND
// For fault-around (cowaround.c), which picks the pages: resolve the COW pages among
// table[from], table[from + step], ... before table[to] (step 1 or -1) as their own faults
// would, passing over pages that are not COW. It stops at the first page that needs a
// COPY if copies is 0, and when kalloc() fails: these pages were not asked for.
void
cow_resolve_run(pte_t *table, int from, int to, int step, int copies)
{
  int reuses = 0, copied = 0;

  for(int i = from; i != to; i += step){
    pte_t pte = table[i];
    if((pte & (PTE_V | PTE_U | PTE_W | PTE_COW)) != (PTE_V | PTE_U | PTE_COW))
      continue;   // not COW, or the guard page (no PTE_U), which no store may reach
    enum cow_outcome how = decide(PTE2PA(pte));
    if((how == COPY && !copies) || resolve(&table[i], how) < 0)
      break;
    if(how == REUSE)
      reuses++;
    else
      copied++;
  }
  tally(reuses, copied);
}
#endif

// Fill in memstat()'s copy-on-write counters; sys_memstat() fills the allocator's.
void
cow_stats(struct memstat *st)
{
  st->cowfaults = counted(&cowstat.faults);
  st->cowcopies = counted(&cowstat.copies);
  st->cowreuses = counted(&cowstat.reuses);
  st->cowshared = counted(&cowstat.shared);
}
