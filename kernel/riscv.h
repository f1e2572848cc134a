// RISC-V supervisor-mode registers, page-table format, and small inline helpers.
// The kernel runs in S-mode under OpenSBI, so only S-mode CSRs appear here.
// Bit positions are facts of the RISC-V privileged specification.
#ifndef XV6_RISCV_H
#define XV6_RISCV_H

#ifndef __ASSEMBLER__

// sstatus: supervisor status.
#define SSTATUS_SPP  (1L << 8)   // previous mode: 1 = supervisor, 0 = user
#define SSTATUS_SPIE (1L << 5)   // supervisor interrupts enabled before the trap
#define SSTATUS_UPIE (1L << 4)
#define SSTATUS_SIE  (1L << 1)   // supervisor interrupt enable
#define SSTATUS_UIE  (1L << 0)
#define SSTATUS_SUM  (1L << 18)  // supervisor may access user pages

// sie / sip: interrupt enable and pending bits.
#define SIE_SSIE (1L << 1)       // software
#define SIE_STIE (1L << 5)       // timer
#define SIE_SEIE (1L << 9)       // external

// scause values. The top bit says "interrupt".
#define SCAUSE_INTR            (1UL << 63)
#define IRQ_S_SOFT             1
#define IRQ_S_TIMER            5
#define IRQ_S_EXT              9
#define EXC_INST_MISALIGNED    0
#define EXC_INST_ACCESS        1
#define EXC_ILLEGAL_INST       2
#define EXC_BREAKPOINT         3
#define EXC_LOAD_MISALIGNED    4
#define EXC_LOAD_ACCESS        5
#define EXC_STORE_MISALIGNED   6
#define EXC_STORE_ACCESS       7
#define EXC_ECALL_U            8
#define EXC_ECALL_S            9
#define EXC_INST_PAGE_FAULT   12
#define EXC_LOAD_PAGE_FAULT   13
#define EXC_STORE_PAGE_FAULT  15   // also AMOs

#define CSR_STIMECMP 0x14d        // Sstc supervisor timer compare

static inline uint64 r_tp(void)   { uint64 x; asm volatile("mv %0, tp" : "=r" (x)); return x; }
static inline void   w_tp(uint64 x) { asm volatile("mv tp, %0" : : "r" (x)); }
static inline uint64 r_sp(void)   { uint64 x; asm volatile("mv %0, sp" : "=r" (x)); return x; }
static inline uint64 r_ra(void)   { uint64 x; asm volatile("mv %0, ra" : "=r" (x)); return x; }
static inline uint64 r_fp(void)   { uint64 x; asm volatile("mv %0, s0" : "=r" (x)); return x; }

static inline uint64 r_sstatus(void) { uint64 x; asm volatile("csrr %0, sstatus" : "=r" (x)); return x; }
static inline void   w_sstatus(uint64 x) { asm volatile("csrw sstatus, %0" : : "r" (x)); }
static inline uint64 r_sip(void)     { uint64 x; asm volatile("csrr %0, sip" : "=r" (x)); return x; }
static inline void   w_sip(uint64 x) { asm volatile("csrw sip, %0" : : "r" (x)); }
static inline uint64 r_sie(void)     { uint64 x; asm volatile("csrr %0, sie" : "=r" (x)); return x; }
static inline void   w_sie(uint64 x) { asm volatile("csrw sie, %0" : : "r" (x)); }
static inline uint64 r_sepc(void)    { uint64 x; asm volatile("csrr %0, sepc" : "=r" (x)); return x; }
static inline void   w_sepc(uint64 x) { asm volatile("csrw sepc, %0" : : "r" (x)); }
static inline uint64 r_stvec(void)   { uint64 x; asm volatile("csrr %0, stvec" : "=r" (x)); return x; }
static inline void   w_stvec(uint64 x) { asm volatile("csrw stvec, %0" : : "r" (x)); }
static inline uint64 r_satp(void)    { uint64 x; asm volatile("csrr %0, satp" : "=r" (x)); return x; }
static inline void   w_satp(uint64 x) { asm volatile("csrw satp, %0" : : "r" (x)); }
static inline uint64 r_scause(void)  { uint64 x; asm volatile("csrr %0, scause" : "=r" (x)); return x; }
static inline uint64 r_stval(void)   { uint64 x; asm volatile("csrr %0, stval" : "=r" (x)); return x; }
static inline uint64 r_sscratch(void) { uint64 x; asm volatile("csrr %0, sscratch" : "=r" (x)); return x; }
static inline void   w_sscratch(uint64 x) { asm volatile("csrw sscratch, %0" : : "r" (x)); }
static inline void   w_scounteren(uint64 x) { asm volatile("csrw scounteren, %0" : : "r" (x)); }
static inline uint64 r_scounteren(void) { uint64 x; asm volatile("csrr %0, scounteren" : "=r" (x)); return x; }

// The time CSR (readable from user mode when scounteren.TM is set).
static inline uint64 r_time(void)    { uint64 x; asm volatile("csrr %0, time" : "=r" (x)); return x; }

static inline void intr_on(void)  { w_sstatus(r_sstatus() | SSTATUS_SIE); }
static inline void intr_off(void) { w_sstatus(r_sstatus() & ~SSTATUS_SIE); }
static inline int  intr_get(void) { return (r_sstatus() & SSTATUS_SIE) != 0; }

// Flush this hart's TLB: every entry, or the entries for one virtual address.
static inline void sfence_vma(void) { asm volatile("sfence.vma zero, zero" ::: "memory"); }
static inline void sfence_vma_va(uint64 va) { asm volatile("sfence.vma %0, zero" : : "r" (va) : "memory"); }

typedef uint64 pte_t;
typedef uint64 *pagetable_t; // 512 PTEs

#endif // __ASSEMBLER__

// satp for Sv39: mode 8 in the top four bits, then the root page-table PPN.
#define SATP_SV39 (8L << 60)
#define MAKE_SATP(pagetable) (SATP_SV39 | (((uint64)pagetable) >> 12))

#define PGSIZE 4096
#define PGSHIFT 12

#define PGROUNDUP(sz)  (((sz)+PGSIZE-1) & ~(PGSIZE-1))
#define PGROUNDDOWN(a) (((a)) & ~(PGSIZE-1))

// Page-table entry bits.
#define PTE_V (1L << 0)   // valid
#define PTE_R (1L << 1)
#define PTE_W (1L << 2)
#define PTE_X (1L << 3)
#define PTE_U (1L << 4)   // user can access
#define PTE_G (1L << 5)   // global
#define PTE_A (1L << 6)   // accessed
#define PTE_D (1L << 7)   // dirty
#define PTE_RSW0 (1L << 8) // reserved for software
#define PTE_RSW1 (1L << 9)
#ifdef COW_FORK
#define PTE_COW PTE_RSW0  // page is shared copy-on-write (see cow.c)
#endif

// physical address <-> PTE
#define PA2PTE(pa) ((((uint64)pa) >> 12) << 10)
#define PTE2PA(pte) (((pte) >> 10) << 12)
#define PTE_FLAGS(pte) ((pte) & 0x3FF)

// The three 9-bit page-table indices of a virtual address.
#define PXMASK          0x1FF
#define PXSHIFT(level)  (PGSHIFT+(9*(level)))
#define PX(level, va) ((((uint64) (va)) >> PXSHIFT(level)) & PXMASK)

// One above the highest virtual address. Sv39 allows 39 bits, but we use
// one bit less so addresses never need sign extension.
#define MAXVA (1L << (9 + 9 + 9 + 12 - 1))

#endif
