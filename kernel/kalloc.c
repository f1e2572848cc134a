// Physical page allocator: a free list of the 4096-byte pages over [end, PHYSTOP), and the
// page statistics. kmem.lock protects the free list and nfree; it is a leaf lock.
#ifndef NO_PAGE_REFS
//
// Every page also has a reference count, one per mapping of it: what lets copy-on-write
// fork share pages. The rule, in one sentence: every change to a count is one atomic
// read-modify-write with C's default, sequentially consistent ordering, and whoever takes
// a count from 1 to 0 frees the page.
//  - kalloc() hands out a page at count 1; krefinc() adds a reference (a new mapping of
//    the page); kfree() drops one. krefinc_ptes() and kfree_ptes() do so for every page a
//    run of leaf PTEs maps, so fork and exit make one call per last-level table.
//  - So no lock protects the counts: racing harts lose no update, exactly one of them sees
//    the drop to 0, and what a hart did with a page before its change is visible to any
//    hart that reads the changed count after it. A free page has count 0.
//  - Kernel bugs panic: a count change from 0 (a double free, or a page never handed out)
//    or to REF_MAX, and an address outside the pages kalloc manages.
#endif

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/memlayout.h"
#include "kernel/spinlock.h"
#include "kernel/riscv.h"
#include "kernel/defs.h"

extern char end[];   // first byte after the kernel image, from kernel.ld

#define NPHYSPAGES ((PHYSTOP - KERNBASE) / PGSIZE)  // pages from KERNBASE to PHYSTOP
#define JUNK_BYTE  1    // freed pages are filled with this, so stale pointers show up fast

struct run {
  struct run *next;
};

static struct {
  struct spinlock lock;
  struct run *freelist;
  uint64 nfree;     // pages on freelist (under lock; read without it as a snapshot)
  uint64 ntotal;    // pages managed, fixed after kinit()
} kmem;

// Index of the page at pa among [KERNBASE, PHYSTOP); panics with msg if pa is misaligned
// or outside.
static uint64
pageindex(void *pa, char *msg)
{
  uint64 i = ((uint64)pa - KERNBASE) / PGSIZE;
  if(((uint64)pa % PGSIZE) != 0 || i >= NPHYSPAGES){
    printf("%s: %p\n", msg, pa);
    panic(msg);
  }
  return i;
}

#ifndef NO_PAGE_REFS
#define REF_MAX (1U << 30)   // a page has at most one reference per process (NPROC)
_Static_assert(NPROC < REF_MAX, "page reference count type too small for NPROC sharers");

static uint ref[NPHYSPAGES];   // indexed by pageindex(); the kernel image's pages stay 0

// Add d (+1 or -1) to the count of page i, which must not be 0; returns the count before.
static uint
addref(uint64 i, int d, char *msg)
{
  uint old = __atomic_fetch_add(&ref[i], d, __ATOMIC_SEQ_CST);
  if(old == 0 || (d > 0 && old + 1 >= REF_MAX)){
    printf("%s: page %p at count %d\n", msg, (void *)(KERNBASE + i * PGSIZE), old);
    panic(msg);
  }
  return old;
}

// One more reference to an allocated page (a new mapping of it).
void
krefinc(void *pa)
{
  addref(pageindex(pa, "krefinc: bad address"), 1, "krefinc: page not allocated");
}

// krefinc() for the page of every valid entry among ptes[0..n) (leaf PTEs: a last-level
// table fork has just shared). Returns how many pages that was.
int
krefinc_ptes(pte_t *ptes, int n)
{
  int pages = 0;
  for(int i = 0; i < n; i++){
    if(ptes[i] & PTE_V){
      krefinc((void *)PTE2PA(ptes[i]));
      pages++;
    }
  }
  return pages;
}

// The number of references to pa: a snapshot, which another hart may change at any moment,
// so a caller must know why the value it acts on stays true.
int
krefcount(void *pa)
{
  return __atomic_load_n(&ref[pageindex(pa, "krefcount: bad address")], __ATOMIC_SEQ_CST);
}

// Pages with more than one reference, counted now (memstat() asks seldom).
uint64
ksharedpages(void)
{
  uint64 n = 0;
  for(uint64 i = 0; i < NPHYSPAGES; i++)
    n += __atomic_load_n(&ref[i], __ATOMIC_RELAXED) > 1;
  return n;
}
#else
// Pages are never shared here: an allocated page has one user, and kfree() frees it. The
// kernel image's pages (the trampoline) read 0: the allocator never hands them out.
int
krefcount(void *pa)
{
  pageindex(pa, "krefcount: bad address");
  return (uint64)pa >= PGROUNDUP((uint64)end);
}

uint64
ksharedpages(void)
{
  return 0;
}
#endif

// Put every page above the kernel image on the free list.
void
kinit(void)
{
  initlock(&kmem.lock, "kmem");
  for(uint64 a = PGROUNDUP((uint64)end); a + PGSIZE <= PHYSTOP; a += PGSIZE){
    struct run *r = (struct run *)a;
    r->next = kmem.freelist;
    kmem.freelist = r;
    kmem.nfree++;
    kmem.ntotal++;
  }
}

// A page, or 0 if none is free. Its contents are whatever was there.
void *
kalloc(void)
{
  acquire(&kmem.lock);
  struct run *r = kmem.freelist;
  if(r){
    kmem.freelist = r->next;
    kmem.nfree--;
  }
  release(&kmem.lock);
#ifndef NO_PAGE_REFS
  if(r && __atomic_fetch_add(&ref[pageindex(r, "kalloc: bad page")], 1, __ATOMIC_SEQ_CST))
    panic("kalloc: free page has references");
#endif
  return (void *)r;
}

// Free the page at pa: back on the free list, filled with junk first (outside the lock:
// nobody else can reach it any more).
#ifndef NO_PAGE_REFS
// That drops one reference; only the last one frees the page.
#endif
void
kfree(void *pa)
{
#ifndef NO_PAGE_REFS
  if(addref(pageindex(pa, "kfree: bad address"), -1, "kfree: page not allocated") > 1)
    return;   // other mappings remain
#else
  pageindex(pa, "kfree: bad address");
#endif
  memset(pa, JUNK_BYTE, PGSIZE);
  struct run *r = (struct run *)pa;
  acquire(&kmem.lock);
  r->next = kmem.freelist;
  kmem.freelist = r;
  kmem.nfree++;
  release(&kmem.lock);
}

// kfree() for the page of every valid entry among ptes[0..n) (leaf PTEs: a last-level
// table being torn down); the entries themselves are left as they are.
void
kfree_ptes(pte_t *ptes, int n)
{
  for(int i = 0; i < n; i++)
    if(ptes[i] & PTE_V)
      kfree((void *)PTE2PA(ptes[i]));
}

// Statistics: snapshots of single aligned words, read without the lock.
uint64
kfreepages(void)
{
  return __atomic_load_n(&kmem.nfree, __ATOMIC_SEQ_CST);
}

uint64
ktotalpages(void)
{
  return kmem.ntotal;
}
