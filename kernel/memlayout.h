// Physical memory map of QEMU's virt machine and the kernel's virtual layout.
// Kernel virtual addresses map RAM and devices one-to-one (the direct map).
#ifndef XV6_MEMLAYOUT_H
#define XV6_MEMLAYOUT_H

// Devices, each at a fixed physical address; IRQ numbers are the PLIC's source numbers.
#define UART0       0x10000000L   // 16550 UART registers (one page)
#define UART0_IRQ   10
#define VIRTIO0     0x10001000L   // virtio-mmio block device registers (one page)
#define VIRTIO0_IRQ 1

// The PLIC: a priority word per source, pending bits, then per context an enable bit
// array and a threshold/claim pair. A context is a (hart, privilege mode) pair; QEMU virt
// numbers hart h's M-mode context 2h and its S-mode context, the one we use, 2h+1.
#define PLIC                0x0c000000L
#define PLIC_PRIORITY       (PLIC + 0x0)      // source i's priority at + 4*i
#define PLIC_SCONTEXT(hart) (2 * (hart) + 1)
#define PLIC_SENABLE(hart)   (PLIC + 0x2000 + 0x80 * PLIC_SCONTEXT(hart))
#define PLIC_SPRIORITY(hart) (PLIC + 0x200000 + 0x1000 * PLIC_SCONTEXT(hart))  // threshold
#define PLIC_SCLAIM(hart)    (PLIC_SPRIORITY(hart) + 4)

#define RAMBASE  0x80000000L   // start of RAM: OpenSBI (M-mode; S-mode may not touch it)
// Where OpenSBI enters the kernel: text, data, bss, then the pages kalloc hands out.
#define KERNBASE 0x80200000L
// RAM size in MiB; the Makefile passes -DMEMSIZE_MB=$(MEM) and gives QEMU the same -m, so
// the kernel never uses more than the machine has. kalloc.c sizes its counts from PHYSTOP.
#ifndef MEMSIZE_MB
#define MEMSIZE_MB 128
#endif
#define PHYSTOP  (RAMBASE + MEMSIZE_MB*1024L*1024)  // end of RAM the kernel uses

// The top of every address space: the trap entry/exit code, then (user page tables only)
// the process's saved registers.
#define TRAMPOLINE (MAXVA - PGSIZE)        // same page in kernel and user page tables
#define TRAPFRAME  (TRAMPOLINE - PGSIZE)   // user page tables only
// Kernel stack of process slot p (kernel page table only): two pages per slot down from
// TRAMPOLINE, the stack above an unmapped guard page: an overflow faults instead of running
// into the neighbour.
#define KSTACK(p)  (TRAMPOLINE - ((p) + 1) * 2 * PGSIZE)

// User memory layout, from address 0: text, data, guard page, stack (USERSTACK pages), heap.

#endif
