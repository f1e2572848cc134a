// Sv39 page tables: the kernel's direct map, user address spaces (grow, shrink, fork's
// uvmcopy, free), the page-fault entry point vmfault(), and copies between kernel and user.
//
// Invariants:
//  - User memory is [0, p->sz). Within it a page may be absent (lazy sbrk, never touched);
//    every function here that walks user memory skips such holes.
//  - Every user leaf PTE has PTE_U, except the stack guard page (uvmclear).
//  - Unmapping a user page always means kfree() of its physical page (kalloc.c decides
//    when the page is free).
//  - Addresses that come from user space are checked here (MAXVA, mapped, PTE_U, PTE_W)
//    and fail with -1; only kernel bugs panic.
//  - mappages, uvmunmap, uvmcopy and uvmfree walk from the root once per last-level table
//    (spanend), whose entries are neighbours in memory; the others go page by page.
#ifdef COW_FORK
//  - No function here flushes the TLB for a user page table: the kernel reaches user memory
//    through its direct map, and every return to user space flushes this hart's user
//    translations (userret, trampoline.S), so a changed PTE is in force by then.
#endif

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/memlayout.h"
#include "kernel/riscv.h"
#include "kernel/spinlock.h"
#include "kernel/proc.h"
#include "kernel/defs.h"
#include "kernel/vmquery.h"

pagetable_t kernel_pagetable;

extern char etext[];       // kernel.ld: end of kernel text
extern char trampoline[];  // trampoline.S, one page

#define DEVPAGE   PGSIZE      // UART0 and VIRTIO0 each need one page of registers
#define PLICSIZE  0x400000    // the PLIC's register window
#define L0SPAN    (1L << PXSHIFT(1))   // bytes one last-level page-table page covers

// A zeroed page to use as a page-table page, or 0 if none is free.
static pagetable_t
newtable(void)
{
  pagetable_t t = (pagetable_t)kalloc();
  if(t != 0)
    memset(t, 0, PGSIZE);
  return t;
}

// The end of the piece of [va, stop) that starts at va and lies under one last-level
// table: the next L0SPAN boundary above va, or stop if that comes first.
static uint64
spanend(uint64 va, uint64 stop)
{
  uint64 boundary = (va | (L0SPAN - 1)) + 1;
  return boundary < stop ? boundary : stop;
}

// Make the kernel page table: the direct map, the trampoline and the kernel stacks (memlayout.h).
void
kvminit(void)
{
  struct { uint64 start, size; int perm; } direct[] = {
    { UART0,           DEVPAGE,                   PTE_R | PTE_W },
    { VIRTIO0,         DEVPAGE,                   PTE_R | PTE_W },
    { PLIC,            PLICSIZE,                  PTE_R | PTE_W },
    { KERNBASE,        (uint64)etext - KERNBASE,  PTE_R | PTE_X },  // kernel text
    { (uint64)etext,   PHYSTOP - (uint64)etext,   PTE_R | PTE_W },  // data, then kalloc's pages
  };
  pagetable_t kpgtbl = newtable();
  if(kpgtbl == 0)
    panic("kvminit: out of memory");

  for(int i = 0; i < NELEM(direct); i++)
    kvmmap(kpgtbl, direct[i].start, direct[i].start, direct[i].size, direct[i].perm);
  kvmmap(kpgtbl, TRAMPOLINE, (uint64)trampoline, PGSIZE, PTE_R | PTE_X);
  proc_mapstacks(kpgtbl);
  kernel_pagetable = kpgtbl;
}

// Switch this hart to the kernel page table. The fences order earlier page-table
// stores before the switch and drop any translations cached before it.
void
kvminithart(void)
{
  sfence_vma();
  w_satp(MAKE_SATP(kernel_pagetable));
  sfence_vma();
}

// Boot-time mapping into the kernel page table; failure there is fatal.
void
kvmmap(pagetable_t kpgtbl, uint64 va, uint64 pa, uint64 sz, int perm)
{
  if(mappages(kpgtbl, va, sz, pa, perm) != 0)
    panic("kvmmap");
}

// The table one level down from the non-leaf entry e. A missing table is made (zeroed)
// if alloc is set; 0 if it is missing and alloc is clear, or no page is free.
static pagetable_t
descend(pte_t *e, int alloc)
{
  if(*e & PTE_V)
    return (pagetable_t)PTE2PA(*e);
  if(!alloc)
    return 0;
  pagetable_t t = newtable();
  if(t != 0)
    *e = PA2PTE(t) | PTE_V;
  return t;
}

// The address of the last-level PTE for va: two steps down from the root (Sv39 has three levels),
// making missing tables if alloc is set. 0 if a table is missing (alloc clear) or cannot be made.
pte_t *
walk(pagetable_t pagetable, uint64 va, int alloc)
{
  if(va >= MAXVA)
    panic("walk: va beyond MAXVA");

  pagetable_t mid = descend(&pagetable[PX(2, va)], alloc);
  if(mid == 0)
    return 0;
  pagetable_t last = descend(&mid[PX(1, va)], alloc);
  if(last == 0)
    return 0;
  return &last[PX(0, va)];
}

// The physical address of user page va, or 0 if it is not mapped with PTE_U.
// No fault handling: callers that want a missing page resolved use vmfault().
uint64
walkaddr(pagetable_t pagetable, uint64 va)
{
  pte_t *pte = va < MAXVA ? walk(pagetable, va, 0) : 0;
  if(pte == 0 || (*pte & (PTE_V | PTE_U)) != (PTE_V | PTE_U))
    return 0;
  return PTE2PA(*pte);
}

// Map [va, va+size) to [pa, pa+size) with perm. va and size must be page-aligned and
// nothing there may be mapped yet (both kernel bugs otherwise). -1 if a page-table page
// cannot be allocated; then the PTEs this call made are removed again.
int
mappages(pagetable_t pagetable, uint64 va, uint64 size, uint64 pa, int perm)
{
  if(size == 0 || (va % PGSIZE) != 0 || (size % PGSIZE) != 0)
    panic("mappages: misaligned or empty range");

  uint64 stop = va + size;
  for(uint64 a = va, next; a < stop; a = next){
    next = spanend(a, stop);
    pte_t *pte = walk(pagetable, a, 1);
    if(pte == 0){
      uvmunmap(pagetable, va, (a - va) / PGSIZE, 0);
      return -1;
    }
    for(; a < next; a += PGSIZE, pte++){
      if(*pte & PTE_V)
        panic("mappages: remap");
      *pte = PA2PTE(pa + (a - va)) | perm | PTE_V;
    }
  }
  return 0;
}

// Remove npages mappings from va (holes skipped), and kfree() each page if do_free.
void
uvmunmap(pagetable_t pagetable, uint64 va, uint64 npages, int do_free)
{
  if((va % PGSIZE) != 0)
    panic("uvmunmap: misaligned va");

  uint64 stop = va + npages * PGSIZE;
  for(uint64 next; va < stop; va = next){
    next = spanend(va, stop);
    pte_t *pte = walk(pagetable, va, 0);
    if(pte == 0)
      continue;   // no last-level table: the whole piece is a hole
    for(pte_t *end = pte + (next - va) / PGSIZE; pte < end; pte++){
      if((*pte & PTE_V) == 0)
        continue;
      if(PTE_FLAGS(*pte) == PTE_V)
        panic("uvmunmap: not a leaf");
      if(do_free)
        kfree((void *)PTE2PA(*pte));
      *pte = 0;
    }
  }
}

// Map a fresh zeroed page at va with perm. pte is va's PTE if the caller has it, else 0
// (then it is looked up, making tables). Returns the PTE, or 0 if out of memory.
static pte_t *
mapzeroed(pagetable_t pagetable, uint64 va, pte_t *pte, int perm)
{
  if(pte == 0 && (pte = walk(pagetable, va, 1)) == 0)
    return 0;
  if(*pte & PTE_V)
    panic("mapzeroed: remap");
  char *mem = kalloc();
  if(mem == 0)
    return 0;
  memset(mem, 0, PGSIZE);
  *pte = PA2PTE(mem) | perm | PTE_V;
  return pte;
}

// A new, empty user page table, or 0 if out of memory.
pagetable_t
uvmcreate(void)
{
  return newtable();
}

// Grow user memory from oldsz to newsz with zeroed pages mapped R|U|xperm.
// Returns newsz, or 0 if out of memory (everything this call mapped is undone).
uint64
uvmalloc(pagetable_t pagetable, uint64 oldsz, uint64 newsz, int xperm)
{
  if(newsz <= oldsz)
    return oldsz;
  if(newsz > TRAPFRAME)
    return 0;

  for(uint64 a = PGROUNDUP(oldsz); a < newsz; a += PGSIZE){
    if(mapzeroed(pagetable, a, 0, PTE_R | PTE_U | xperm) == 0){
      uvmdealloc(pagetable, a, oldsz);
      return 0;
    }
  }
  return newsz;
}

// Shrink user memory to newsz: unmap the pages wholly above it, up to oldsz, and
// kfree() them (lazy holes are skipped). Returns the size now, the smaller of the two.
uint64
uvmdealloc(pagetable_t pagetable, uint64 oldsz, uint64 newsz)
{
  uint64 from = PGROUNDUP(newsz), to = PGROUNDUP(oldsz);
  if(from < to)
    uvmunmap(pagetable, from, (to - from) / PGSIZE, 1);
  return newsz < oldsz ? newsz : oldsz;
}

// kfree() every page mapped by the last-level table pt, which covers the L0SPAN from va, in one
// call for the table, then free pt itself. Every leaf must lie below sz (sz page-aligned).
static void
freeleaves(pagetable_t pt, uint64 va, uint64 sz)
{
  int n = sz <= va ? 0 : sz >= va + L0SPAN ? NPTE : (sz - va) / PGSIZE;
  for(int i = n; i < NPTE; i++)
    if(pt[i] & PTE_V)
      panic("uvmfree: leaf mapped above sz");
  kfree_ptes(pt, n);
  kfree((void *)pt);
}

// Free the page-table tree below the table pt at level (2: the root), which covers the
// addresses from va: every table page once, and the leaves' pages on the way.
static void
freetables(pagetable_t pt, int level, uint64 va, uint64 sz)
{
  for(int i = 0; i < NPTE; i++){
    pte_t pte = pt[i];
    if((pte & PTE_V) == 0)
      continue;
    if((pte & (PTE_R | PTE_W | PTE_X)) != 0)
      panic("uvmfree: leaf above the last level");   // user memory has no superpages
    uint64 a = va + ((uint64)i << PXSHIFT(level));
    if(level == 1)
      freeleaves((pagetable_t)PTE2PA(pte), a, sz);
    else
      freetables((pagetable_t)PTE2PA(pte), level - 1, a, sz);
  }
  kfree((void *)pt);
}

// Drop the user memory [0, sz) and free the page table, in one pass over the tables.
// Everything above sz (the trampoline, the trapframe) must be unmapped already.
void
uvmfree(pagetable_t pagetable, uint64 sz)
{
  freetables(pagetable, 2, 0, PGROUNDUP(sz));
}

#ifndef COW_FORK
// Give the child its own copy of every page the first n entries of the parent's
// last-level table src map, with the same flags, in the same entries of the child's
// (fresh, all-zero) table dst. 0, or -1 if out of memory; then the copies made so far
// are still mapped in dst, and uvmcopy() removes them.
static int
copy_table(pte_t *src, pte_t *dst, int n)
{
  for(int i = 0; i < n; i++){
    if((src[i] & PTE_V) == 0)
      continue;
    char *mem = kalloc();
    if(mem == 0)
      return -1;
    memmove(mem, (void *)PTE2PA(src[i]), PGSIZE);
    dst[i] = PA2PTE(mem) | PTE_FLAGS(src[i]);
  }
  return 0;
}
#endif

// Give the child page table the parent's user memory [0, sz), table by table (holes skipped).
// 0, or -1 if out of memory, after unmapping and kfree()ing every child page mapped so far, so
// nothing leaks (the child's page-table pages go with the child, uvmfree).
int
uvmcopy(pagetable_t old, pagetable_t new, uint64 sz)
{
  uint64 top = PGROUNDUP(sz);

  for(uint64 va = 0, next; va < top; va = next){
    next = spanend(va, top);
    int n = (next - va) / PGSIZE;
    pte_t *src = walk(old, va, 0);
    if(src == 0)
      continue;   // no last-level table: the whole piece is a hole
    pte_t *dst = walk(new, va, 1);
#ifdef COW_FORK
    if(dst != 0){
      cow_share_table(src, dst, n);   // share every page copy-on-write (cow.c)
      continue;
    }
#else
    if(dst != 0 && copy_table(src, dst, n) == 0)
      continue;
#endif
    uvmunmap(new, 0, next / PGSIZE, 1);
    return -1;
  }
  return 0;
}

// Remove PTE_U from the page at va (the guard page under the user stack).
void
uvmclear(pagetable_t pagetable, uint64 va)
{
  pte_t *pte = walk(pagetable, va, 0);
  if(pte == 0 || (*pte & PTE_V) == 0)
    panic("uvmclear: page not mapped");
  *pte &= ~PTE_U;
}

// Lazy sbrk: the first touch of a page below p->sz maps a fresh zeroed page. *ptep is
// the PTE found for va (0 if its last-level table is missing); it becomes the new PTE.
static int
lazyalloc(pagetable_t pagetable, uint64 va, pte_t **ptep)
{
  struct proc *p = myproc();
  if(p == 0 || pagetable != p->pagetable || va >= p->sz)
    return FAULT_BAD;
  *ptep = mapzeroed(pagetable, va, *ptep, PTE_R | PTE_W | PTE_U);
  return *ptep != 0 ? FAULT_OK : FAULT_NOMEM;
}

// Make the user page at va (page-aligned) usable for a load, or a store if write, and set *ptep
// to its PTE; a FAULT_ result (defs.h). The page table is walked once and the PTE found is what
// the fault resolvers get: a missing page may be a lazy one; a store to a page without PTE_W may
// be a copy-on-write one.
static int
useraccess(pagetable_t pagetable, uint64 va, int write, pte_t **ptep)
{
  if(va >= MAXVA)
    return FAULT_BAD;
  pte_t *pte = *ptep = walk(pagetable, va, 0);
  if(pte == 0 || (*pte & PTE_V) == 0)
    return lazyalloc(pagetable, va, ptep);
  if((*pte & (PTE_U | PTE_R)) != (PTE_U | PTE_R))
    return FAULT_BAD;
  if(write && (*pte & PTE_W) == 0)
#ifdef COW_FORK
    return cow_fault(pte, va);   // a COW page (REUSE or COPY), or not writable at all
#else
    return FAULT_BAD;            // text or read-only data
#endif
  return FAULT_OK;
}

// The one place a user page fault is resolved, for usertrap(); the copy functions below
// take the same path. write says whether the access is a store.
int
vmfault(pagetable_t pagetable, uint64 va, int write)
{
  pte_t *pte;
  int r = useraccess(pagetable, PGROUNDDOWN(va), write, &pte);
  // For gdb only: keep the arguments in registers until here, so that bt during the fault
  // shows them in this frame (and useraccess's) rather than <optimized out>.
  asm volatile("" : : "r" (pagetable), "r" (write));
  return r;
}

// The loop copyout, copyin and copyinstr share: cut [va, va+len) at page boundaries, make
// each page usable (for a store if how is TOUSER) and copy its piece to or from kern.
// 1 if a STRINGFROMUSER copy found the NUL, 0 if len ran out, -1 at an address the process
// may not access so (the pieces before it have been copied).
enum { TOUSER, FROMUSER, STRINGFROMUSER };

static int
usercopy(pagetable_t pagetable, uint64 va, char *kern, uint64 len, int how)
{
  pte_t *pte;

  while(len > 0){
    uint64 off = va % PGSIZE;
    if(useraccess(pagetable, va - off, how == TOUSER, &pte) != FAULT_OK)
      return -1;
    char *user = (char *)PTE2PA(*pte) + off;   // through the kernel's direct map
    uint64 n = PGSIZE - off < len ? PGSIZE - off : len;
    if(how == TOUSER)
      memmove(user, kern, n);
    else if(how == FROMUSER)
      memmove(kern, user, n);
    else
      for(uint64 i = 0; i < n; i++)
        if((kern[i] = user[i]) == '\0')
          return 1;
    va += n;
    kern += n;
    len -= n;
  }
  return 0;
}

// Copy len bytes from kernel src to user dstva. 0 on success, -1 on a bad address
// (bytes before it may have been copied).
int
copyout(pagetable_t pagetable, uint64 dstva, char *src, uint64 len)
{
  return usercopy(pagetable, dstva, src, len, TOUSER) < 0 ? -1 : 0;
}

// Copy len bytes from user srcva to kernel dst. 0 on success, -1 on a bad address.
int
copyin(pagetable_t pagetable, char *dst, uint64 srcva, uint64 len)
{
  return usercopy(pagetable, srcva, dst, len, FROMUSER) < 0 ? -1 : 0;
}

// Copy a NUL-terminated string of at most max bytes (NUL included) from user srcva to
// dst. 0 on success, -1 on a bad address or if no NUL comes within max bytes.
int
copyinstr(pagetable_t pagetable, char *dst, uint64 srcva, uint64 max)
{
  return usercopy(pagetable, srcva, dst, max, STRINGFROMUSER) == 1 ? 0 : -1;
}

// Make every page of user [va, va+len) usable, for a store if write: afterwards a copy of
// that range cannot fail (useraccess() has resolved every page it would fault on). A process
// has one thread and nobody else unmaps its pages, so this stays true until the process
// itself changes its memory. 0, or -1 if some page may not be accessed so, or memory ran
// out. For callers that must not act on part of a buffer, such as a pipe or console write,
// which cannot take bytes back once the reader has them.
int
userrange(pagetable_t pagetable, uint64 va, uint64 len, int write)
{
  pte_t *pte;

  if(len == 0)
    return 0;
  if(va >= MAXVA || len > MAXVA - va)
    return -1;
  for(uint64 a = PGROUNDDOWN(va); a < va + len; a += PGSIZE)
    if(useraccess(pagetable, a, write, &pte) != FAULT_OK)
      return -1;
  return 0;
}

// ---- Looking at an address space: the vmquery() system call and ^P (procdump) ----
// Both only read page tables, every page as it is (kernel/vmquery.h says what is reported).
// vmquery() reads the caller's own page table, which nothing else changes. ^P reads other
// processes' tables with no lock (it must work on a wedged kernel), so a table may be freed and
// reused under it: every address taken from a PTE is checked to be RAM before it is read, so such
// a race gives a wrong count, never a fault in the kernel.

// Is pa the address of a page of RAM the kernel maps (the allocator's pages, or the
// kernel image, where the trampoline lives)?
static int
isram(uint64 pa)
{
  return pa >= KERNBASE && pa < PHYSTOP;
}

// The first valid leaf PTE of pagetable at or above *va and below end (end <= MAXVA),
// with *va set to its page; 0 if there is none. A missing page-table page is skipped
// whole, so a sparse address space (a huge lazy heap) costs a step per missing table,
// not per page. User page tables have no superpages: an upper-level PTE is a table.
static pte_t *
nextleaf(pagetable_t pagetable, uint64 *va, uint64 end)
{
  uint64 a = *va;

  while(a < end){
    pagetable_t pt = pagetable;
    int level;
    for(level = 2; level > 0; level--){
      pte_t pte = pt[PX(level, a)];
      if((pte & PTE_V) == 0 || !isram(PTE2PA(pte)))
        break;
      pt = (pagetable_t)PTE2PA(pte);
    }
    if(level > 0){
      a = (a | ((1L << PXSHIFT(level)) - 1)) + 1;   // past the span of the missing table
      continue;
    }
    pte_t *pte = &pt[PX(0, a)];
    if(*pte & PTE_V){
      *va = a;
      return pte;
    }
    a += PGSIZE;
  }
  return 0;
}

// Copied out whole: no padding bytes that could carry kernel stack contents.
_Static_assert(sizeof(struct vmpage) == 2*sizeof(uint64) + 2*sizeof(uint),
               "struct vmpage has padding");

// What the PTE pte (0: none) says about the page at va, as vmquery.h describes it: the
// software bits as they are, which is how a copy-on-write mark shows (VMP_ISCOW).
static void
describe(uint64 va, pte_t pte, struct vmpage *vp)
{
  memset(vp, 0, sizeof(*vp));   // no stack garbage in the struct reaches user space
  vp->va = va;
  if((pte & PTE_V) == 0)
    return;
  vp->pa = PTE2PA(pte);
  vp->flags = VMP_MAPPED | (pte & PTE_R ? VMP_R : 0) | (pte & PTE_W ? VMP_W : 0) |
              (pte & PTE_X ? VMP_X : 0) | (pte & PTE_U ? VMP_U : 0) |
              (pte & PTE_RSW0 ? VMP_RSW0 : 0) | (pte & PTE_RSW1 ? VMP_RSW1 : 0);
  if(isram(vp->pa))
    vp->refs = krefcount((void *)vp->pa);
}

// vmquery() (kernel/vmquery.h): npages entries from va into the user array dst, which is
// made writable whole (userrange) before anything is written, so the copies cannot fail.
int
uvmquery(pagetable_t pagetable, uint64 va, int npages, uint64 dst)
{
  if(va % PGSIZE != 0 || npages <= 0 || npages > VMQ_MAXPAGES)
    return -1;
  if(va >= MAXVA || (uint64)npages > (MAXVA - va) / PGSIZE)
    return -1;
  if(userrange(pagetable, dst, (uint64)npages * sizeof(struct vmpage), 1) < 0)
    return -1;

  uint64 end = va + (uint64)npages * PGSIZE, at = va;
  pte_t *pte = nextleaf(pagetable, &at, end);
  for(uint64 a = va; a < end; a += PGSIZE, dst += sizeof(struct vmpage)){
    struct vmpage vp;
    if(pte && at == a){
      describe(a, *pte, &vp);
      at = a + PGSIZE;
      pte = nextleaf(pagetable, &at, end);
    } else {
      describe(a, 0, &vp);
    }
    if(copyout(pagetable, dst, (char *)&vp, sizeof(vp)) < 0)
      return -1;
  }
  return 0;
}

// For ^P: how many pages of [0, sz) pagetable maps (*mapped) and how many of those are
// shared with another mapping, count above 1 (*shared). Safe on a page table that
// changes meanwhile, or is freed (see above); the numbers are then a guess.
void
uvmcount(pagetable_t pagetable, uint64 sz, int *mapped, int *shared)
{
  struct vmpage vp;
  pte_t *pte;

  *mapped = *shared = 0;
  if(pagetable == 0 || !isram((uint64)pagetable))
    return;
  uint64 end = sz < TRAPFRAME ? PGROUNDUP(sz) : TRAPFRAME;
  for(uint64 a = 0; (pte = nextleaf(pagetable, &a, end)) != 0; a += PGSIZE){
    describe(a, *pte, &vp);
    (*mapped)++;
    *shared += vp.refs > 1;
  }
}
