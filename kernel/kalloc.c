// Physical page allocator: a free list of 4096-byte pages over [end, PHYSTOP), and one
// reference count per physical page, which is what lets copy-on-write share pages.
//
// Rules (anything that shares pages relies on them):
//  - kalloc() hands out a page with count 1; krefinc() adds a reference; kfree() drops
//    one, and whoever drops the count to 0 puts the page back on the free list. The junk
//    fill happens only then, for pages really freed.
//  - The counts need no lock: each is a 32-bit word changed only by one atomic
//    read-modify-write (amoadd.w), so harts adding and dropping references to the same
//    page at once never lose an update, and exactly one of them sees the drop to 0.
//    Increments are relaxed (the caller already holds a reference, so the page cannot go
//    away under it). A drop is a release (kfree: acquire+release; kfree_ptes: one release
//    fence before its loop, an acquire fence before a free) and krefcount() is an acquire
//    load, so whatever a hart did with a page before dropping its reference happens
//    before whatever the hart that then sees the smaller count does with it (a sharer
//    that reads count 1 and keeps writing the page, or the junk fill of a freed page).
//  - krefinc_ptes()/kfree_ptes() do the same for every page a run of leaf PTEs maps (one
//    last-level page table): one call per table at fork and exit instead of one per page.
//  - kmem.lock protects only the free list and nfree. It is a leaf lock: nothing else is
//    acquired while it is held. A page on the free list has count 0.
//  - nshared (pages with count above 1) follows the counts' 1->2 and 2->1 steps with
//    atomic adds of its own; a reader sees a snapshot.
//  - Kernel bugs panic: dropping a reference to a page whose count is already 0 (double
//    free, or a page never handed out), adding one to a page at count 0, a count reaching
//    REF_MAX (overflow: a page has at most one reference per process that maps it, NPROC,
//    so REF_MAX is unreachable without a bug), and an address that is misaligned or
//    outside the pages kalloc manages.

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/memlayout.h"
#include "kernel/spinlock.h"
#include "kernel/riscv.h"
#include "kernel/defs.h"

extern char end[];   // first byte after the kernel image, from kernel.ld

#define NPHYSPAGES ((PHYSTOP - KERNBASE) / PGSIZE)  // pages from KERNBASE to PHYSTOP
#define REF_MAX    (1U << 30)   // far below the 32-bit wrap, even with NCPU harts racing past
#define JUNK_BYTE  1    // freed pages are filled with this, so stale pointers show up fast

_Static_assert(NPROC < REF_MAX, "page reference count type too small for NPROC sharers");

struct run {
  struct run *next;
};

static struct {
  struct spinlock lock;
  struct run *freelist;
  uint64 nfree;     // pages on freelist (under lock; read without it as a snapshot)
  uint64 ntotal;    // pages managed, fixed after kinit()
  uint64 nshared;   // pages whose count is above 1 (atomic adds)
  uint ref[NPHYSPAGES];  // indexed by (pa - KERNBASE) / PGSIZE; atomic, see above
} kmem;

// First page the allocator manages.
static uint64
firstpage(void)
{
  return PGROUNDUP((uint64)end);
}

static void __attribute__((noinline, noreturn))
badaddr(void *pa, char *msg)
{
  printf("%s: %p\n", msg, pa);
  panic(msg);
}

// The count of pa; panics with msg on an address that is not page-aligned or lies outside
// [KERNBASE, PHYSTOP). The kernel image's own pages, below firstpage(), pass this cheap
// check but always have count 0, so kfree() and krefinc() still panic on them.
static inline uint *
refof(void *pa, char *msg)
{
  uint64 i = ((uint64)pa - KERNBASE) / PGSIZE;
  if(((uint64)pa % PGSIZE) != 0 || i >= NPHYSPAGES)
    badaddr(pa, msg);
  return &kmem.ref[i];
}

// Put every page above the kernel image on the free list, each with count 0.
void
kinit(void)
{
  initlock(&kmem.lock, "kmem");
  for(uint64 a = firstpage(); a + PGSIZE <= PHYSTOP; a += PGSIZE){
    struct run *r = (struct run *)a;
    r->next = kmem.freelist;
    kmem.freelist = r;
    kmem.ref[(a - KERNBASE) / PGSIZE] = 0;
    kmem.nfree++;
    kmem.ntotal++;
  }
}

// A page with count 1, or 0 if none is free. Contents are whatever was there.
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
  if(r == 0)
    return 0;

  // The page is ours alone now: nobody else holds a reference that could change the count.
  uint *ref = &kmem.ref[((uint64)r - KERNBASE) / PGSIZE];
  if(__atomic_load_n(ref, __ATOMIC_RELAXED) != 0)
    panic("kalloc: free page has references");
  __atomic_store_n(ref, 1, __ATOMIC_RELAXED);
  return (void *)r;
}

// The count of pa has just dropped to 0: fill it with junk and put it on the free list.
static void __attribute__((noinline))
freepage(void *pa)
{
  memset(pa, JUNK_BYTE, PGSIZE);   // nobody else can reach the page, so outside the lock
  struct run *r = (struct run *)pa;
  acquire(&kmem.lock);
  r->next = kmem.freelist;
  kmem.freelist = r;
  kmem.nfree++;
  release(&kmem.lock);
}

// Drop one reference to pa; the page returns to the free list when none are left.
void
kfree(void *pa)
{
  uint *ref = refof(pa, "kfree: bad physical address");
  uint old = __atomic_fetch_sub(ref, 1, __ATOMIC_ACQ_REL);

  if(old > 2)
    return;
  if(old == 2){
    __atomic_fetch_sub(&kmem.nshared, 1, __ATOMIC_RELAXED);
    return;
  }
  if(old == 0)
    panic("kfree: page is already free");
  freepage(pa);
}

// One more reference to an allocated page (a new mapping of it).
void
krefinc(void *pa)
{
  uint *ref = refof(pa, "krefinc: bad physical address");
  uint old = __atomic_fetch_add(ref, 1, __ATOMIC_RELAXED);

  if(old == 1){
    __atomic_fetch_add(&kmem.nshared, 1, __ATOMIC_RELAXED);
    return;
  }
  if(old == 0)
    panic("krefinc: page is not allocated");
  if(old >= REF_MAX)
    panic("krefinc: reference count overflow");
}

// The count of the page a valid leaf PTE maps, for the loops below: pa comes from a page
// table, but a corrupt entry must still panic rather than hit memory outside kmem.ref.
// The index comes straight from the PTE's page number (bits 10 and up); an entry with any
// of the bits above the 44-bit PPN set fails the check too.
static inline uint *
refofpte(pte_t pte, char *msg)
{
  uint64 i = (pte >> 10) - KERNBASE / PGSIZE;
  if(i >= NPHYSPAGES)
    badaddr((void *)PTE2PA(pte), msg);
  return &kmem.ref[i];
}

// krefinc() for the page of every valid entry among ptes[0..n) (leaf PTEs, e.g. a
// last-level page table that fork has just shared). One call per table rather than per
// page, so the checks' constants stay in registers. Returns how many pages that was.
int
krefinc_ptes(pte_t *ptes, int n)
{
  int pages = 0;
  uint64 nowshared = 0;

  for(int i = 0; i < n; i++){
    if((ptes[i] & PTE_V) == 0)
      continue;
    uint old = __atomic_fetch_add(refofpte(ptes[i], "krefinc_ptes: bad PTE"), 1,
                                  __ATOMIC_RELAXED);
    if(old - 1 >= REF_MAX - 1)   // old == 0 or old >= REF_MAX
      panic(old == 0 ? "krefinc_ptes: page is not allocated" :
            "krefinc_ptes: reference count overflow");
    nowshared += (old == 1);
    pages++;
  }
  if(nowshared)
    __atomic_fetch_add(&kmem.nshared, nowshared, __ATOMIC_RELAXED);
  return pages;
}

// kfree() for the page of every valid entry among ptes[0..n) (leaf PTEs, e.g. a
// last-level page table being torn down); the entries themselves are left as they are.
// One release fence orders everything this hart did with all the pages before the drops,
// and the acquire fence before a free orders the other sharers' accesses before it.
void
kfree_ptes(pte_t *ptes, int n)
{
  uint64 nolongershared = 0;

  __atomic_thread_fence(__ATOMIC_RELEASE);
  for(int i = 0; i < n; i++){
    if((ptes[i] & PTE_V) == 0)
      continue;
    uint old = __atomic_fetch_sub(refofpte(ptes[i], "kfree_ptes: bad PTE"), 1,
                                  __ATOMIC_RELAXED);
    if(old > 2)
      continue;
    if(old == 2){
      nolongershared++;
      continue;
    }
    if(old == 0)
      panic("kfree_ptes: page is already free");
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    freepage((void *)PTE2PA(ptes[i]));
  }
  if(nolongershared)
    __atomic_fetch_sub(&kmem.nshared, nolongershared, __ATOMIC_RELAXED);
}

// Current number of references to pa. Only a snapshot: another hart may change it at any
// moment, so a caller must know why the value it acts on stays true.
int
krefcount(void *pa)
{
  return __atomic_load_n(refof(pa, "krefcount: bad physical address"), __ATOMIC_ACQUIRE);
}

// The statistics read a single aligned word; no lock is needed for a snapshot.
uint64
kfreepages(void)
{
  return __atomic_load_n(&kmem.nfree, __ATOMIC_RELAXED);
}

uint64
ktotalpages(void)
{
  return kmem.ntotal;
}

// A 2->1 step on one hart may add its -1 just before the 1->2 step it follows on another
// hart adds its +1, so for an instant the word can read as -1: report 0 then.
uint64
ksharedpages(void)
{
  long n = (long)__atomic_load_n(&kmem.nshared, __ATOMIC_RELAXED);
  return n < 0 ? 0 : n;
}
