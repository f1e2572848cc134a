// Physical page allocator: a free list of 4096-byte pages over [end, PHYSTOP), and one
// reference count per physical page, which is what lets copy-on-write share pages.
//
// Rules (anything that shares pages relies on them):
//  - kalloc() hands out a page with count 1; krefinc() adds a reference; kfree() drops
//    one and puts the page back on the free list only when the count reaches 0.
//  - kmem.lock protects the free list, every count and the statistics counters. It is a
//    leaf lock: nothing else is acquired while it is held. Every read-modify-write of a
//    count happens under it, so harts faulting on the same page at once never lose an
//    update.
//  - A count is a ushort. The most references a page can have is one per process that
//    maps it (a page is never mapped twice in one address space), so NPROC processes.
//    The static assertion below keeps NPROC far below the type's limit; krefinc() still
//    panics rather than wrap.
//  - A page on the free list has count 0. Freeing it again, or freeing an address that is
//    misaligned or outside [end, PHYSTOP), is a kernel bug and panics.

#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "spinlock.h"
#include "riscv.h"
#include "defs.h"

extern char end[];   // first byte after the kernel image, from kernel.ld

#define NPHYSPAGES ((PHYSTOP - KERNBASE) / PGSIZE)  // pages from KERNBASE to PHYSTOP
#define REF_MAX    0xFFFF                           // largest value a ushort count holds
#define JUNK_BYTE  1    // freed pages are filled with this, so stale pointers show up fast

_Static_assert(NPROC < REF_MAX, "page reference count type too small for NPROC sharers");

struct run {
  struct run *next;
};

static struct {
  struct spinlock lock;
  struct run *freelist;
  uint64 nfree;     // pages on freelist
  uint64 ntotal;    // pages managed, fixed after kinit()
  uint64 nshared;   // pages whose count is above 1
  ushort ref[NPHYSPAGES];  // indexed by (pa - KERNBASE) / PGSIZE
} kmem;

// First page the allocator manages.
static uint64
firstpage(void)
{
  return PGROUNDUP((uint64)end);
}

// Index of pa in kmem.ref; panics with msg on an address the allocator does not manage.
static uint64
pageindex(void *pa, char *msg)
{
  uint64 a = (uint64)pa;
  if((a % PGSIZE) != 0 || a < firstpage() || a >= PHYSTOP){
    printf("%s: %p\n", msg, pa);
    panic(msg);
  }
  return (a - KERNBASE) / PGSIZE;
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
    uint64 i = ((uint64)r - KERNBASE) / PGSIZE;
    if(kmem.ref[i] != 0)
      panic("kalloc: free page has references");
    kmem.ref[i] = 1;
  }
  release(&kmem.lock);
  return (void *)r;
}

// Drop one reference to pa; the page returns to the free list when none are left.
void
kfree(void *pa)
{
  uint64 i = pageindex(pa, "kfree: bad physical address");

  acquire(&kmem.lock);
  if(kmem.ref[i] == 0)
    panic("kfree: page is already free");
  int left = --kmem.ref[i];
  if(left == 1)
    kmem.nshared--;
  release(&kmem.lock);
  if(left > 0)
    return;

  // Count 0: nobody else can reach the page now, so fill it outside the lock.
  memset(pa, JUNK_BYTE, PGSIZE);
  struct run *r = (struct run *)pa;
  acquire(&kmem.lock);
  r->next = kmem.freelist;
  kmem.freelist = r;
  kmem.nfree++;
  release(&kmem.lock);
}

// One more reference to an allocated page (a new mapping of it).
void
krefinc(void *pa)
{
  uint64 i = pageindex(pa, "krefinc: bad physical address");

  acquire(&kmem.lock);
  if(kmem.ref[i] == 0)
    panic("krefinc: page is not allocated");
  if(kmem.ref[i] >= REF_MAX)
    panic("krefinc: reference count overflow");
  if(++kmem.ref[i] == 2)
    kmem.nshared++;
  release(&kmem.lock);
}

// Current number of references to pa. Only a snapshot: it may change as soon as
// kmem.lock is released, so a caller must know why the value it acts on stays true.
int
krefcount(void *pa)
{
  uint64 i = pageindex(pa, "krefcount: bad physical address");

  acquire(&kmem.lock);
  int n = kmem.ref[i];
  release(&kmem.lock);
  return n;
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

uint64
ksharedpages(void)
{
  return __atomic_load_n(&kmem.nshared, __ATOMIC_RELAXED);
}
