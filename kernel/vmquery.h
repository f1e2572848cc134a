// What the vmquery() system call reports: one struct vmpage per page of the caller's
// address space, as its page table maps it (uvmquery() in kernel/vm.c).
//
//   int vmquery(uint64 va, int npages, struct vmpage *buf);
//
// Fills buf[0..npages) for the pages va, va+PGSIZE, ... and returns 0.
//  - va must be page-aligned; 1 <= npages <= VMQ_MAXPAGES; the range must end at or below
//    MAXVA. Anything else is -1.
//  - buf must be npages entries of memory the process may write. If it is not, the
//    result is -1 and buf is left exactly as it was: the kernel checks (and, for lazily
//    allocated or copy-on-write pages, prepares) all of buf before it writes any of it.
//  - The answer describes the address space as it is when the call returns, so pages of
//    buf inside the range show as the writable pages they have become.
//  - A page that is not mapped (beyond the heap, a lazy sbrk page never touched, the gap
//    below the trapframe) is an entry with flags 0, not an error.
//  - Every page is reported as it is, including the ones without VMP_U: the stack's
//    guard page (mapped, no VMP_U), and at the top the trapframe (TRAPFRAME, R W) and the
//    trampoline (TRAMPOLINE, R X, kernel code: refs 0, the allocator does not own it).
// Every byte of each entry is written (no padding, unused fields 0).
#ifndef XV6_VMQUERY_H
#define XV6_VMQUERY_H

#define VMQ_MAXPAGES 1024   // most pages one call describes

struct vmpage {
  uint64 va;      // the page's virtual address
  uint64 pa;      // the physical page it maps to; 0 if not mapped
  uint flags;     // VMP_ bits below; 0 if not mapped
  uint refs;      // the physical page's reference count (kalloc.c); 0 if not mapped
};

#define VMP_MAPPED  0x001   // the page table maps this page (PTE_V)
#define VMP_R       0x002   // readable
#define VMP_W       0x004   // writable
#define VMP_X       0x008   // executable
#define VMP_U       0x010   // user mode may touch it
#define VMP_RSW0    0x020   // the PTE's two software bits, as they are (riscv.h's PTE_RSW0
#define VMP_RSW1    0x040   //   and PTE_RSW1): where a kernel keeps its own marks

// A copy-on-write page shows as a mapped page that is not writable, with the kernel's
// mark in one of the two software bits (which one is the kernel's choice). Text, never
// writable, carries no mark; once a write has made a page writable again it is no longer
// copy-on-write, whatever its software bits say. (The stack's guard page, writable but
// not VMP_U, is shared like any other page, so it may show as copy-on-write too.)
#define VMP_ISCOW(flags) \
  (((flags) & (VMP_MAPPED | VMP_W)) == VMP_MAPPED && ((flags) & (VMP_RSW0 | VMP_RSW1)) != 0)

#endif
