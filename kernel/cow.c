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
//  The counts. kalloc.c keeps one reference count per physical page. kalloc() sets it to
//  1; every additional mapping made by fork adds one (krefinc_ptes, a leaf table at a
//  time); every unmapping, and any other kfree(), drops one (kfree_ptes at exit); whoever
//  drops it to 0 frees the page. Each change is one atomic add on the page's count (no
//  lock; see kalloc.c): increments are relaxed, drops are releases, krefcount is an
//  acquire load. This file holds no lock.
//
//  The fault. A store to a COW page traps (or copyout() finds PTE_W clear) and ends here,
//  with one of two outcomes:
//    REUSE  the count is 1: this mapping is the page's only user, so PTE_W is restored
//           and PTE_COW cleared in place. No copy, no allocation.
//    COPY   the count is above 1: allocate a page, copy the old one into it, map the new
//           page writable (PTE_COW cleared), then drop this mapping's reference to the old.
//
//  The TLB. Whenever a PTE loses a permission (fork's downgrade of the parent) the hart
//  must flush before the address space runs again (uvmcopy flushes once, after the whole
//  copy); after any change to a PTE of an address space that may be cached (the fault
//  paths) we flush that address. Other harts cannot hold stale entries for a running
//  process: a process runs on one hart at a time, and every return to user space flushes
//  the TLB (trampoline.S).

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/memlayout.h"
#include "kernel/riscv.h"
#include "kernel/memstat.h"
#include "kernel/defs.h"

// Since boot; updated with atomic adds because faults on many harts bump them at once.
static struct {
  uint64 faults;   // COW faults resolved
  uint64 copies;   // ... by COPY
  uint64 reuses;   // ... by REUSE
  uint64 shared;   // page mappings shared by fork
} cowstat;

static void
count(uint64 *counter)
{
  __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

// The value both parent and child get for a page the parent maps with PTE pte: a
// writable page becomes read-only + PTE_COW; a read-only one (COW already, or never
// writable) keeps its flags.
static inline pte_t
cow_pte(pte_t pte)
{
  if(pte & PTE_W)
    pte = (pte & ~PTE_W) | PTE_COW;
  return pte;
}

// Share the first n entries of one last-level table of the parent with the same entries
// of the child's table (fresh: all zero). For every valid parent PTE: write the shared
// value into the child's entry and downgrade the parent's; then add one to the count of
// every page the child's entries now map, in one call for the table.
// Cannot fail: uvmcopy (vm.c) walks the tables and allocates the child's table first.
// Returns 0 (the signature fork_table() in vm.c shares); the caller flushes the TLB.
int
cow_share_table(pte_t *parent, pte_t *child, int n)
{
  for(int i = 0; i < n; i++){
    pte_t pte = parent[i];
    if(pte & PTE_V)
      child[i] = parent[i] = cow_pte(pte);
  }
  uint64 shared = krefinc_ptes(child, n);
  __atomic_fetch_add(&cowstat.shared, shared, __ATOMIC_RELAXED);
  return 0;
}

// Resolve a write to the COW page at va in pagetable (REUSE or COPY, see above).
// FAULT_OK: the write will now succeed. FAULT_NOMEM: no page for the copy; nothing was
// changed and nothing leaked. FAULT_BAD: va is not a COW page of this address space.
//
// Why it is safe with several sharers faulting at once on different harts, although the
// count is read and then acted on with no lock held (it is one atomic word, kalloc.c):
//  - A count can only rise through fork, i.e. through a process that maps the page. If we
//    read 1, the only mapping is ours, and our process is busy in this fault, so it can't
//    fork: the count stays 1 and REUSE cannot race with anyone.
//  - If we read more than 1, other sharers may drop theirs meanwhile; then we copy when
//    REUSE would have done. That wastes one copy but is correct, and the last kfree()
//    frees the old page.
//  - Nobody can write the old page while we copy it: a writer would need count 1, and
//    our reference is dropped only after the copy. kfree()'s drop is a release and
//    krefcount() an acquire, which orders our reads of the old page before the writes of
//    whoever next reads count 1 (or frees it).
int
cow_fault(pagetable_t pagetable, uint64 va)
{
  if(va >= MAXVA)
    return FAULT_BAD;
  va = PGROUNDDOWN(va);
  pte_t *pte = walk(pagetable, va, 0);
  if(pte == 0 || (*pte & (PTE_V | PTE_U | PTE_COW)) != (PTE_V | PTE_U | PTE_COW))
    return FAULT_BAD;

  uint64 old = PTE2PA(*pte);
  uint64 flags = (PTE_FLAGS(*pte) | PTE_W) & ~PTE_COW;

  if(krefcount((void *)old) == 1){
    *pte = PA2PTE(old) | flags;                        // REUSE
    count(&cowstat.reuses);
  } else {
    char *mem = kalloc();                              // COPY
    if(mem == 0)
      return FAULT_NOMEM;
    memmove(mem, (void *)old, PGSIZE);
    *pte = PA2PTE(mem) | flags;
    kfree((void *)old);
    count(&cowstat.copies);
  }
  sfence_vma_va(va);
  count(&cowstat.faults);
  return FAULT_OK;
}

// Fill in memstat()'s copy-on-write counters; sys_memstat() fills the allocator's.
void
cow_stats(struct memstat *st)
{
  st->cowfaults = __atomic_load_n(&cowstat.faults, __ATOMIC_RELAXED);
  st->cowcopies = __atomic_load_n(&cowstat.copies, __ATOMIC_RELAXED);
  st->cowreuses = __atomic_load_n(&cowstat.reuses, __ATOMIC_RELAXED);
  st->cowshared = __atomic_load_n(&cowstat.shared, __ATOMIC_RELAXED);
}
