// Copy-on-write fork: sharing a parent's pages with its child (cow_share), resolving the
// first write to a shared page (cow_fault), and the COW statistics (cow_stats).
//
// The rules, stated once:
//
//  The mark. PTE_COW is RSW bit 8 of a PTE, a bit the hardware ignores. A page is COW
//  when it was writable and is now shared read-only: its PTE has PTE_COW set and PTE_W
//  clear. PTE_COW and PTE_W are never set together. A page that was never writable
//  (text, rodata) is shared as it is, without the mark, and a write to it is an error
//  forever.
//
//  The counts. kalloc.c keeps one reference count per physical page. kalloc() sets it to
//  1; every additional mapping made by fork adds one (krefinc); every unmapping, and any
//  other kfree(), drops one; the page is freed when the count reaches 0. The counts are
//  protected by kmem.lock inside kalloc.c (a leaf lock); this file never holds a lock of
//  its own while calling into kalloc.c.
//
//  The fault. A store to a COW page traps (or copyout() finds PTE_W clear) and ends here,
//  with one of two outcomes:
//    REUSE  the count is 1: this mapping is the page's only user, so PTE_W is restored
//           and PTE_COW cleared in place. No copy, no allocation.
//    COPY   the count is above 1: allocate a page, copy the old one into it, map the new
//           page writable (PTE_COW cleared), then drop this mapping's reference to the old.
//
//  The TLB. Whenever a PTE loses a permission (fork's downgrade of the parent) the hart
//  must flush before the address space runs again; after any change to a PTE of an
//  address space that may be cached (the fault paths) we flush that address. Other harts
//  cannot hold stale entries for a running process: a process runs on one hart at a
//  time, and every return to user space flushes the TLB (trampoline.S).

#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "riscv.h"
#include "memstat.h"
#include "defs.h"

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

// Share the page that parent PTE *ppte maps at va with the child page table.
// A writable page becomes read-only + PTE_COW in the parent, and the child gets the same
// flags; a read-only page (COW already, or never writable) is shared with its flags as
// they are. The count goes up by one. Returns 0, or -1 if the child's page-table pages
// could not be allocated, in which case nothing changed. The caller flushes the TLB.
int
cow_share(pte_t *ppte, pagetable_t child, uint64 va)
{
  uint64 pa = PTE2PA(*ppte);
  uint64 flags = PTE_FLAGS(*ppte);

  if(flags & PTE_W)
    flags = (flags & ~PTE_W) | PTE_COW;

  // Map the child first: it is the only step that can fail, and it changes nothing
  // the parent can see.
  if(mappages(child, va, PGSIZE, pa, flags) < 0)
    return -1;
  krefinc((void *)pa);
  *ppte = PA2PTE(pa) | flags;
  count(&cowstat.shared);
  return 0;
}

// Resolve a write to the COW page at va in pagetable (REUSE or COPY, see above).
// FAULT_OK: the write will now succeed. FAULT_NOMEM: no page for the copy; nothing was
// changed and nothing leaked. FAULT_BAD: va is not a COW page of this address space.
//
// Why it is safe with several sharers faulting at once on different harts, although the
// count is read and then acted on without holding kmem.lock:
//  - A count can only rise through fork, i.e. through a process that maps the page. If we
//    read 1, the only mapping is ours, and our process is busy in this fault, so it can't
//    fork: the count stays 1 and REUSE cannot race with anyone.
//  - If we read more than 1, other sharers may drop theirs meanwhile; then we copy when
//    REUSE would have done. That wastes one copy but is correct, and the last kfree()
//    frees the old page.
//  - Nobody can write the old page while we copy it: a writer would need count 1, and
//    our reference is dropped only after the copy. kfree()/krefcount() take kmem.lock,
//    which orders our reads of the old page before the next owner's writes.
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
