// Physical memory map of QEMU's virt machine and the kernel's virtual layout.
//
// Physical (facts of QEMU virt; MEMSIZE_MB of RAM, 128 MiB unless `make MEM=N` says otherwise):
//   0x0c000000  PLIC
//   0x10000000  UART 16550
//   0x10001000  virtio-mmio disk
//   0x80000000  OpenSBI firmware (M-mode; S-mode may not touch it)
//   0x80200000  the kernel: text, data, bss, then pages handed out by kalloc
//   PHYSTOP     end of RAM (0x88000000 with 128 MiB)
//
// Kernel virtual addresses map RAM and devices one-to-one (the direct map).
// At the top of every address space, kernel and user:
//   TRAMPOLINE  the trap entry/exit code, mapped in both page tables
//   below it    per-process kernel stacks, each under an unmapped guard page (kernel only)
//   TRAPFRAME   per-process saved registers, just below TRAMPOLINE (user page tables only)
#ifndef XV6_MEMLAYOUT_H
#define XV6_MEMLAYOUT_H

#define UART0 0x10000000L
#define UART0_IRQ 10

#define VIRTIO0 0x10001000L
#define VIRTIO0_IRQ 1

#define PLIC 0x0c000000L
#define PLIC_PRIORITY (PLIC + 0x0)
#define PLIC_PENDING (PLIC + 0x1000)
// Each hart's S-mode context is context 2*hart+1.
#define PLIC_SENABLE(hart) (PLIC + 0x2080 + (hart)*0x100)
#define PLIC_SPRIORITY(hart) (PLIC + 0x201000 + (hart)*0x2000)
#define PLIC_SCLAIM(hart) (PLIC + 0x201004 + (hart)*0x2000)

#define RAMBASE  0x80000000L                  // start of RAM (OpenSBI lives here)
#define KERNBASE 0x80200000L                  // where OpenSBI enters the kernel
// RAM size in MiB; the Makefile passes -DMEMSIZE_MB=$(MEM) and gives QEMU the same -m, so
// the kernel never uses more than the machine has. kalloc.c sizes its counts from PHYSTOP.
#ifndef MEMSIZE_MB
#define MEMSIZE_MB 128
#endif
#define PHYSTOP  (RAMBASE + MEMSIZE_MB*1024L*1024)  // end of RAM the kernel uses

#define TRAMPOLINE (MAXVA - PGSIZE)

// Kernel stack of process slot p, with an unmapped guard page below it.
#define KSTACK(p) (TRAMPOLINE - ((p)+1)* 2*PGSIZE)

#define TRAPFRAME (TRAMPOLINE - PGSIZE)

// User memory layout, from address 0: text, data, guard page, stack (USERSTACK pages), heap.

#endif
