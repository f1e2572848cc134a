// Physical page allocator: a free list of 4096-byte pages over [end, PHYSTOP), one reference
// count per page (what lets copy-on-write fork share pages), and the page statistics.
//
// The counts, in one sentence: every change to a count is one atomic read-modify-write
// with C's default, sequentially consistent ordering, and whoever takes a count from 1 to
// 0 frees the page.
//  - kalloc() hands out a page at count 1; krefinc() adds a reference (a new mapping of
//    the page); kfree() drops one. krefinc_ptes() and kfree_ptes() do so for every page a
//    run of leaf PTEs maps, so fork and exit make one call per last-level table.
//  - So no lock protects the counts: racing harts lose no update, exactly one of them sees
//    the drop to 0, and what a hart did with a page before its change is visible to any
//    hart that reads the changed count after it. A free page has count 0.
//  - kmem.lock protects the free list and nfree only; it is a leaf lock.
//  - Kernel bugs panic: a count change from 0 (a double free, or a page never handed out)
//    or to REF_MAX, and an address outside the pages kalloc manages.
// The counts sit in one conditional block; the rest of the file is a plain free list.

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
// or outside. The kernel image's pages pass, but their count stays 0.
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

static uint ref[NPHYSPAGES];   // indexed by pageindex(); changed only by addref()

// Add d (+1 or -1) to the count of page i; returns the count before.
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

// Whether the kfree() of page i drops its last reference.
static int
lastref(uint64 i)
{
  return addref(i, -1, "kfree: page not allocated") == 1;
}

// kalloc() hands page i out: its count goes from 0 to 1.
static void
firstref(uint64 i)
{
  if(__atomic_fetch_add(&ref[i], 1, __ATOMIC_SEQ_CST) != 0)
    panic("kalloc: free page has references");
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
      addref(pageindex((void *)PTE2PA(ptes[i]), "krefinc_ptes: bad PTE"), 1,
             "krefinc_ptes: page not allocated");
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

// Pages with more than one reference, counted now (memstat() and cowstat ask seldom).
uint64
ksharedpages(void)
{
  uint64 n = 0;
  for(uint64 i = 0; i < NPHYSPAGES; i++)
    n += __atomic_load_n(&ref[i], __ATOMIC_RELAXED) > 1;
  return n;
}
#else
// NO_PAGE_REFS, the standard lab level (tools/handout.py): no counts, kfree() frees.
static int  lastref(uint64 i)  { return 1; }
static void firstref(uint64 i) { }
uint64      ksharedpages(void) { return 0; }
#endif

// Put every page above the kernel image on the free list. Their counts are 0 already
// (the bss, which entry.S clears).
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
  if(r)
    firstref(pageindex(r, "kalloc: bad free list"));
  return (void *)r;
}

// Put pa, whose last reference is gone, back on the free list, filled with junk first
// (outside the lock: nobody else can reach it any more).
static void
freepage(void *pa)
{
  memset(pa, JUNK_BYTE, PGSIZE);
  struct run *r = (struct run *)pa;
  acquire(&kmem.lock);
  r->next = kmem.freelist;
  kmem.freelist = r;
  kmem.nfree++;
  release(&kmem.lock);
}

// Drop one reference to pa; the page is freed with the last one.
void
kfree(void *pa)
{
  if(lastref(pageindex(pa, "kfree: bad address")))
    freepage(pa);
}

// kfree() for the page of every valid entry among ptes[0..n) (leaf PTEs: a last-level
// table being torn down); the entries themselves are left as they are.
void
kfree_ptes(pte_t *ptes, int n)
{
  for(int i = 0; i < n; i++){
    void *pa = (void *)PTE2PA(ptes[i]);
    if((ptes[i] & PTE_V) && lastref(pageindex(pa, "kfree_ptes: bad PTE")))
      freepage(pa);
  }
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
