// Copy-on-write fork: sharing a parent's pages with its child (cow_share_table), resolving
// the first write to a shared page (cow_fault), and the COW statistics (cow_stats).
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
//  The TLB. Whenever a PTE loses a permission (fork's downgrade of the parent) the hart
//  flushes before the address space runs again (cow_share_table, once per table); after
//  a fault changes a PTE we flush that address. Other harts cannot hold stale entries for
//  a running process: a process runs on one hart at a time, and every return to user
//  space flushes the user translations (trampoline.S).

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/memlayout.h"
#include "kernel/riscv.h"
#include "kernel/memstat.h"
#include "kernel/defs.h"

// Since boot; atomic adds, because faults on many harts bump them at once.
static struct {
  uint64 faults;   // COW faults resolved
  uint64 copies;   // ... by COPY
  uint64 reuses;   // ... by REUSE
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
// every page the child's entries now map, in one call for the table, and flush the TLB
// (the parent's entries may have lost PTE_W). Cannot fail: uvmcopy (vm.c) allocates the
// child's table first.
void
cow_share_table(pte_t *parent, pte_t *child, int n)
{
  for(int i = 0; i < n; i++){
    pte_t pte = parent[i];
    if(pte & PTE_V)
      child[i] = parent[i] = cow_pte(pte);
  }
  count(&cowstat.shared, krefinc_ptes(child, n));
  sfence_vma();
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

// Resolve a store to the user page at va, whose PTE (valid, PTE_U, PTE_W clear) vm.c
// found at pte. FAULT_OK: the store will now succeed. FAULT_NOMEM: no page for the
// copy; nothing was changed and nothing leaked. FAULT_BAD: not a COW page, so the
// page is not writable at all.
int
cow_fault(pte_t *pte, uint64 va)
{
  if((*pte & PTE_COW) == 0)
    return FAULT_BAD;

  uint64 old = PTE2PA(*pte);
  uint64 flags = (PTE_FLAGS(*pte) | PTE_W) & ~PTE_COW;

  switch(decide(old)){
  case REUSE:
    *pte = PA2PTE(old) | flags;
    count(&cowstat.reuses, 1);
    break;
  case COPY: {
    char *mem = kalloc();
    if(mem == 0)
      return FAULT_NOMEM;
    memmove(mem, (void *)old, PGSIZE);
    *pte = PA2PTE(mem) | flags;
    kfree((void *)old);   // only after the copy: see decide()
    count(&cowstat.copies, 1);
    break;
  }
  }
  sfence_vma_va(va);
  count(&cowstat.faults, 1);
  return FAULT_OK;
}

// Fill in memstat()'s copy-on-write counters; sys_memstat() fills the allocator's.
void
cow_stats(struct memstat *st)
{
  st->cowfaults = __atomic_load_n(&cowstat.faults, __ATOMIC_SEQ_CST);
  st->cowcopies = __atomic_load_n(&cowstat.copies, __ATOMIC_SEQ_CST);
  st->cowreuses = __atomic_load_n(&cowstat.reuses, __ATOMIC_SEQ_CST);
  st->cowshared = __atomic_load_n(&cowstat.shared, __ATOMIC_SEQ_CST);
}
