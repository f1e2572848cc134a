// Physical page allocator: a free list of 4096-byte pages over [end, PHYSTOP), and one
// reference count per physical page, which is what lets copy-on-write share pages.
//
// The rule for the counts, in one sentence: every change to a count is one atomic
// read-modify-write (refup/refdown below) with C's default, sequentially consistent
// ordering, and whoever takes a count from 1 to 0 frees the page.
//  - kalloc() takes a free page from 0 to 1; krefinc() adds a reference (a new mapping);
//    kfree() drops one. krefinc_ptes()/kfree_ptes() do the same for every page a run of
//    leaf PTEs maps (one last-level table): one call per table at fork and exit.
//  - So no lock is needed: harts changing the same count at once never lose an update,
//    exactly one of them sees the drop to 0, and whatever a hart did with a page before
//    its change is visible to the hart that reads the changed count afterwards.
//  - kmem.lock protects only the free list and nfree. It is a leaf lock: nothing else is
//    acquired while it is held. A page on the free list has count 0.
//  - nshared (pages with count above 1) follows the counts' 1->2 and 2->1 steps with
//    atomic adds of its own; a reader sees a snapshot.
//  - Kernel bugs panic: dropping a reference to a page whose count is already 0 (double
//    free, or a page never handed out), adding one to a page at count 0, a count reaching
//    REF_MAX (a page has at most one reference per process that maps it, NPROC, so
//    REF_MAX is unreachable without a bug), and an address that is misaligned or outside
//    the pages kalloc manages.

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

// The count of the page a valid leaf PTE maps, for the per-table loops: the index comes
// straight from the PTE's page number, and a corrupt entry (also one with bits set above
// the PPN) must still panic rather than reach outside kmem.ref.
static inline uint *
refofpte(pte_t pte, char *msg)
{
  uint64 i = (pte >> PTE_PPN_SHIFT) - KERNBASE / PGSIZE;
  if(i >= NPHYSPAGES)
    badaddr((void *)PTE2PA(pte), msg);
  return &kmem.ref[i];
}

// The only two changes a count ever sees. Each returns the count before it.
static inline uint
refup(uint *ref)
{
  return __atomic_fetch_add(ref, 1, __ATOMIC_SEQ_CST);
}

static inline uint
refdown(uint *ref)
{
  return __atomic_fetch_sub(ref, 1, __ATOMIC_SEQ_CST);
}

// Put every page above the kernel image on the free list. Their counts are 0 already
// (kmem is in the bss, which entry.S clears).
void
kinit(void)
{
  initlock(&kmem.lock, "kmem");
  for(uint64 a = firstpage(); a + PGSIZE <= PHYSTOP; a += PGSIZE){
    struct run *r = (struct run *)a;
    r->next = kmem.freelist;
    kmem.freelist = r;
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
  if(r && refup(refof(r, "kalloc: bad free list")) != 0)
    panic("kalloc: free page has references");
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

// After one more reference to a page that had old: 1 if the page became shared.
static inline int
upped(uint old)
{
  if(old > 1 && old < REF_MAX)
    return 0;
  if(old == 1)
    return 1;
  panic(old == 0 ? "krefinc: page is not allocated" : "krefinc: reference count overflow");
}

// After pa's count dropped from old: 1 if the page stopped being shared; at 0 the page
// is freed.
static inline int
dropped(void *pa, uint old)
{
  if(old > 2)
    return 0;
  if(old == 2)
    return 1;
  if(old == 0)
    panic("kfree: page is already free");
  freepage(pa);
  return 0;
}

// Drop one reference to pa; the page returns to the free list when none are left.
void
kfree(void *pa)
{
  if(dropped(pa, refdown(refof(pa, "kfree: bad physical address"))))
    __atomic_fetch_sub(&kmem.nshared, 1, __ATOMIC_SEQ_CST);
}

// One more reference to an allocated page (a new mapping of it).
void
krefinc(void *pa)
{
  if(upped(refup(refof(pa, "krefinc: bad physical address"))))
    __atomic_fetch_add(&kmem.nshared, 1, __ATOMIC_SEQ_CST);
}

// krefinc() for the page of every valid entry among ptes[0..n) (leaf PTEs, e.g. a
// last-level table that fork has just shared). Returns how many pages that was.
int
krefinc_ptes(pte_t *ptes, int n)
{
  int pages = 0;
  uint64 nowshared = 0;

  for(int i = 0; i < n; i++){
    if(ptes[i] & PTE_V){
      nowshared += upped(refup(refofpte(ptes[i], "krefinc_ptes: bad PTE")));
      pages++;
    }
  }
  if(nowshared)
    __atomic_fetch_add(&kmem.nshared, nowshared, __ATOMIC_SEQ_CST);
  return pages;
}

// kfree() for the page of every valid entry among ptes[0..n) (leaf PTEs, e.g. a
// last-level table being torn down); the entries themselves are left as they are.
void
kfree_ptes(pte_t *ptes, int n)
{
  uint64 nolongershared = 0;

  for(int i = 0; i < n; i++){
    if(ptes[i] & PTE_V)
      nolongershared += dropped((void *)PTE2PA(ptes[i]),
                                refdown(refofpte(ptes[i], "kfree_ptes: bad PTE")));
  }
  if(nolongershared)
    __atomic_fetch_sub(&kmem.nshared, nolongershared, __ATOMIC_SEQ_CST);
}

// Current number of references to pa. Only a snapshot: another hart may change it at any
// moment, so a caller must know why the value it acts on stays true.
int
krefcount(void *pa)
{
  return __atomic_load_n(refof(pa, "krefcount: bad physical address"), __ATOMIC_SEQ_CST);
}

// The statistics read a single aligned word; no lock is needed for a snapshot.
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

// A 2->1 step on one hart may add its -1 just before the 1->2 step it follows on another
// hart adds its +1, so for an instant the word can read as -1: report 0 then.
uint64
ksharedpages(void)
{
  long n = (long)__atomic_load_n(&kmem.nshared, __ATOMIC_SEQ_CST);
  return n < 0 ? 0 : n;
}
