// RISC-V supervisor-mode registers, page-table format, and small inline helpers.
// The kernel runs in S-mode under OpenSBI, so only S-mode CSRs appear here.
// Bit positions are facts of the RISC-V privileged specification.
#ifndef XV6_RISCV_H
#define XV6_RISCV_H

#ifndef __ASSEMBLER__

// sstatus: supervisor status.
#define SSTATUS_SPP  (1L << 8)   // previous mode: 1 = supervisor, 0 = user
#define SSTATUS_SPIE (1L << 5)   // supervisor interrupts enabled before the trap
#define SSTATUS_SIE  (1L << 1)   // supervisor interrupt enable

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

static inline uint64 r_tp(void)   { uint64 x; asm volatile("mv %0, tp" : "=r" (x)); return x; }
static inline void   w_tp(uint64 x) { asm volatile("mv tp, %0" : : "r" (x)); }
static inline uint64 r_sp(void)   { uint64 x; asm volatile("mv %0, sp" : "=r" (x)); return x; }

// Read or write a CSR by its name in the privileged specification.
#define CSRR(csr)    ({ uint64 x_; asm volatile("csrr %0, " #csr : "=r" (x_)); x_; })
#define CSRW(csr, x) asm volatile("csrw " #csr ", %0" : : "r" (x))

static inline uint64 r_sstatus(void)     { return CSRR(sstatus); }
static inline void   w_sstatus(uint64 x) { CSRW(sstatus, x); }
static inline uint64 r_sip(void)         { return CSRR(sip); }
static inline void   w_sip(uint64 x)     { CSRW(sip, x); }
static inline uint64 r_sie(void)         { return CSRR(sie); }
static inline void   w_sie(uint64 x)     { CSRW(sie, x); }
static inline uint64 r_sepc(void)        { return CSRR(sepc); }
static inline void   w_sepc(uint64 x)    { CSRW(sepc, x); }
static inline void   w_stvec(uint64 x)   { CSRW(stvec, x); }
static inline uint64 r_satp(void)        { return CSRR(satp); }
static inline void   w_satp(uint64 x)    { CSRW(satp, x); }
static inline uint64 r_scause(void)      { return CSRR(scause); }
static inline uint64 r_stval(void)       { return CSRR(stval); }
static inline void   w_sscratch(uint64 x) { CSRW(sscratch, x); }
static inline void   w_scounteren(uint64 x) { CSRW(scounteren, x); }
static inline uint64 r_scounteren(void)  { return CSRR(scounteren); }

// The time CSR (readable from user mode when scounteren.TM is set).
static inline uint64 r_time(void)        { return CSRR(time); }

static inline void intr_on(void)  { w_sstatus(r_sstatus() | SSTATUS_SIE); }
static inline void intr_off(void) { w_sstatus(r_sstatus() & ~SSTATUS_SIE); }
static inline int  intr_get(void) { return (r_sstatus() & SSTATUS_SIE) != 0; }

// Flush this hart's TLB, every entry.
static inline void sfence_vma(void) { asm volatile("sfence.vma zero, zero" ::: "memory"); }

typedef uint64 pte_t;
typedef uint64 *pagetable_t; // 512 PTEs

#endif // __ASSEMBLER__

// ---- Sv39 paging (privileged spec, "Sv39"). The names below are the ones the xv6 book
// and the lab handout use; kernel and user code rely on them.

// A virtual address: three 9-bit page-table indices (level 2, the root's, is the highest)
// above a 12-bit offset into the page.
#define PGSHIFT 12                               // offset bits
#define PGSIZE  4096                             // bytes per page: 1 << PGSHIFT
#define PGROUNDDOWN(a) ((a) & ~(PGSIZE - 1))               // start of the page holding a
#define PGROUNDUP(sz)  (((sz) + PGSIZE - 1) & ~(PGSIZE - 1))  // first page boundary >= sz
#define PXMASK          0x1FF                    // one index: 9 bits, 512 entries a table
#define NPTE            (PXMASK + 1)             // entries in one page-table page
#define PXSHIFT(level)  (PGSHIFT + 9 * (level))  // where level's index starts
#define PX(level, va)   ((((uint64)(va)) >> PXSHIFT(level)) & PXMASK)

// Sv39 translates 39-bit addresses, but those with bit 38 set stand for addresses whose upper bits
// are all ones (sign extension). We use only the lower half: every valid address lies below MAXVA.
#define MAXVA (1L << (PXSHIFT(3) - 1))

// A page-table entry: permission and status flags in bits 0-9, the physical page number
// from bit PTE_PPN_SHIFT up. An entry with V set and none of R, W, X points to the
// next level's table; any other valid entry is a leaf.
#define PTE_V    (1L << 0)   // valid
#define PTE_R    (1L << 1)   // readable
#define PTE_W    (1L << 2)   // writable
#define PTE_X    (1L << 3)   // executable
#define PTE_U    (1L << 4)   // user mode may access (and supervisor mode may not, without SUM)
#define PTE_G    (1L << 5)   // global: in every address space
#define PTE_A    (1L << 6)   // accessed (set by hardware or trapped)
#define PTE_D    (1L << 7)   // dirty: written
#define PTE_RSW0 (1L << 8)   // bits 8-9 are the software's; the hardware ignores them
#define PTE_RSW1 (1L << 9)
#ifdef COW_FORK
#define PTE_COW  PTE_RSW0    // page is shared copy-on-write (see cow.c)
#endif
#define PTE_PPN_SHIFT 10
#define PA2PTE(pa)     ((((uint64)(pa)) >> PGSHIFT) << PTE_PPN_SHIFT)  // pa's page, as a PTE
#define PTE2PA(pte)    (((pte) >> PTE_PPN_SHIFT) << PGSHIFT)    // the page a PTE maps
#define PTE_FLAGS(pte) ((pte) & ((1L << PTE_PPN_SHIFT) - 1))    // bits 0-9

// satp: MODE 8 (Sv39) in the top four bits, the root table's physical page number below.
#define SATP_SV39 (8L << 60)
#define MAKE_SATP(pagetable) (SATP_SV39 | (((uint64)(pagetable)) >> PGSHIFT))

#endif
