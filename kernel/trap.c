// Trap handling: entry from user mode (usertrap/usertrapret), traps inside the kernel
// (kerneltrap), device and timer interrupts, and the per-hart clock.
#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/memlayout.h"
#include "kernel/riscv.h"
#include "kernel/spinlock.h"
#include "kernel/proc.h"
#include "kernel/defs.h"

// The time CSR counts at 10 MHz on QEMU virt. A tick (the time slice) is 1/TICKHZ s:
// short, so that a woken thread waits little for a hart (see scheduler(), proc.c).
#define TIMEBASE_HZ   10000000
#define TICK_INTERVAL (TIMEBASE_HZ / TICKHZ)

struct spinlock tickslock;
uint ticks;            // protected by tickslock; advanced by one hart only

static int tick_hart;  // the only hart that counts ticks, else they would run NCPU times too fast

// Per hart: 1 if the stimecmp CSR works here, else the SBI timer is used. Written once by
// the hart itself in timerinit(), read only by that hart.
static int use_sstc[NCPU];

// Address-space IDs, the trap's fast path (trampoline.S). If the hart has them, the kernel
// page table runs as ASID 0 and every user one as USER_ASID, so their translations never mix
// in the TLB: entering the kernel flushes nothing, returning to user flushes only USER_ASID
// (the previous process's entries and any this one's lost since). Sound because the kernel
// page table never changes after boot. Without (user_asid 0) both directions flush all.
#define SATP_ASID_SHIFT 44
#define SATP_ASID_MASK  (0xffffUL << SATP_ASID_SHIFT)
#define USER_ASID       1UL
static uint64 user_asid[NCPU];   // per hart, set by trapinithart()

extern char trampoline[], uservec[], userret[];   // trampoline.S
void kernelvec(void);                             // kernelvec.S
int sstc_probe(void);                             // kernelvec.S
void usertrap(void);
void kerneltrap(void);

#define SIP_SSIP SIE_SSIE   // sip's pending software interrupt, at sie's bit position

enum intrkind { INTR_NONE, INTR_DEVICE, INTR_TIMER };   // what devintr() found

static inline void
w_stimecmp(uint64 x)
{
  asm volatile("csrw stimecmp, %0" : : "r" (x));
}

void
trapinit(void)
{
  initlock(&tickslock, "time");
  tick_hart = cpuid();   // trapinit runs once, on the boot hart
}

// Install the kernel trap vector and unmask this hart's interrupt sources. sstatus.SIE stays
// off; the scheduler turns interrupts on.
void
trapinithart(void)
{
  w_stvec((uint64)kernelvec);
  w_sie(r_sie() | SIE_SEIE | SIE_STIE | SIE_SSIE);

  // Probe for ASIDs: the ASID bits a hart implements are the ones that stick in satp.
  // The flush drops whatever was cached under the probe value.
  uint64 ksatp = r_satp();
  w_satp(ksatp | SATP_ASID_MASK);
  uint64 probed = r_satp();
  w_satp(ksatp);
  sfence_vma();
  user_asid[cpuid()] = (probed & (USER_ASID << SATP_ASID_SHIFT)) ? USER_ASID : 0;
#ifdef TRAP_FULL_FLUSH
  // Behave as a hart without ASIDs: the trampoline then flushes the whole TLB on every
  // entry and return. A staff build, to measure the ASID path against.
  user_asid[cpuid()] = 0;
#endif
}

// Ask for the next timer interrupt on this hart, which also retires the pending one.
static void
timer_arm(void)
{
  uint64 next = r_time() + TICK_INTERVAL;
  if(use_sstc[cpuid()])
    w_stimecmp(next);
  else
    sbi_set_timer(next);
}

// Per hart, interrupts off, after trapinithart(): choose the timer mechanism. Sstc is usable
// only if the hart has it and the firmware enabled it for S-mode, which the probe tests.
void
timerinit(void)
{
  use_sstc[cpuid()] = sstc_probe();
  timer_arm();
}

static void
clockintr(void)
{
  if(cpuid() == tick_hart){
    acquire(&tickslock);
    ticks++;
    wakeup(&ticks);
    release(&tickslock);
    if(ticks % TICKHZ == 0)
      procdecay();
  }
  timer_arm();
}

// An external interrupt routed through the PLIC to this hart.
static void
external_intr(void)
{
  int irq = plic_claim();
  if(irq == 0)
    return;        // another hart claimed it first
  if(irq == UART0_IRQ)
    uartintr();
  else if(irq == VIRTIO0_IRQ)
    virtio_disk_intr();
  else
    printf("devintr: unexpected irq %d\n", irq);
  plic_complete(irq);
}

// Handle the interrupt described by scause, if it is one we know.
static enum intrkind
devintr(uint64 scause)
{
  if(scause == (SCAUSE_INTR | IRQ_S_EXT)){
    external_intr();
    return INTR_DEVICE;
  }
  if(scause == (SCAUSE_INTR | IRQ_S_TIMER)){
    clockintr();
    return INTR_TIMER;
  }
  if(scause == (SCAUSE_INTR | IRQ_S_SOFT)){
    // Nobody sends inter-processor interrupts yet; just acknowledge.
    w_sip(r_sip() & ~SIP_SSIP);
    return INTR_DEVICE;
  }
  return INTR_NONE;
}

// Each exception's name, and whether stval holds the faulting address; for the others the
// pc is the best address (an illegal instruction's stval holds the instruction bits).
static const struct { char *name; int addr; } exceptions[] = {
  [EXC_INST_MISALIGNED]  = { "misaligned instruction fetch", 1 },
  [EXC_INST_ACCESS]      = { "instruction access fault", 1 },
  [EXC_ILLEGAL_INST]     = { "illegal instruction", 0 },
  [EXC_BREAKPOINT]       = { "breakpoint", 0 },
  [EXC_LOAD_MISALIGNED]  = { "misaligned load", 1 },
  [EXC_LOAD_ACCESS]      = { "load access fault", 1 },
  [EXC_STORE_MISALIGNED] = { "misaligned store", 1 },
  [EXC_STORE_ACCESS]     = { "store access fault", 1 },
  [EXC_ECALL_U]          = { "environment call from user mode", 0 },
  [EXC_ECALL_S]          = { "environment call from supervisor mode", 0 },
  [EXC_INST_PAGE_FAULT]  = { "instruction page fault", 1 },
  [EXC_LOAD_PAGE_FAULT]  = { "load page fault", 1 },
  [EXC_STORE_PAGE_FAULT] = { "store page fault", 1 },
};

static char *
exception_name(uint64 scause)
{
  if(scause < NELEM(exceptions) && exceptions[scause].name != 0)
    return exceptions[scause].name;
  return "unknown exception";
}

// An exception other than ecall from user mode. Page faults may be legal (lazy allocation,
// COW) and are resolved by vmfault(); anything else kills the process with one line saying
// why. Not inlined, so that `break user_exception` in gdb stops here with p and scause shown.
static void __attribute__((noinline))
user_exception(struct proc *p, uint64 scause)
{
  uint64 stval = r_stval();
  uint64 pc = p->trapframe->epc;
  int r = FAULT_BAD;

  if(scause == EXC_LOAD_PAGE_FAULT || scause == EXC_STORE_PAGE_FAULT){
    r = vmfault(p->pagetable, stval, scause == EXC_STORE_PAGE_FAULT);
    if(r == FAULT_OK)
      return;
  }

  printf("usertrap: pid %d (%s) killed: %s at va 0x%lx, pc 0x%lx%s\n",
         p->pid, p->name, exception_name(scause),
         scause < NELEM(exceptions) && exceptions[scause].addr ? stval : pc, pc,
         r == FAULT_NOMEM ? ", out of memory" : "");
  setkilled(p);
}

// Reached from uservec in trampoline.S, on the process's kernel stack with the
// kernel page table, interrupts off.
void
usertrap(void)
{
  if((r_sstatus() & SSTATUS_SPP) != 0)
    panic("usertrap: not from user mode");

  w_stvec((uint64)kernelvec);

  struct proc *p = myproc();
  p->trapframe->epc = r_sepc();

  uint64 scause = r_scause();
  enum intrkind kind = INTR_NONE;

  if(scause & SCAUSE_INTR){
    kind = devintr(scause);
    if(kind == INTR_NONE)
      printf("usertrap: unexpected interrupt scause 0x%lx pid %d\n",
             scause, p->pid);
  } else if(scause == EXC_ECALL_U){
    if(killed(p))
      exit(-1);
    p->trapframe->epc += 4;   // return past the ecall
    // sepc, scause and sstatus are saved by now, so interrupts are safe.
    intr_on();
    syscall();
  } else {
    user_exception(p, scause);
  }

  if(killed(p))
    exit(-1);

  if(kind == INTR_TIMER)
    yield();

  usertrapret();
}

// Return to user mode in the current process: set up what uservec will need on the next
// trap, then leave through userret in the trampoline.
void
usertrapret(void)
{
  struct proc *p = myproc();

  // stvec is about to point at uservec, which only works for traps from user mode, so no
  // interrupt may be taken until sret.
  intr_off();
  w_stvec(TRAMPOLINE + (uservec - trampoline));

  p->trapframe->kernel_satp = r_satp();
  p->trapframe->kernel_sp = p->kstack + PGSIZE;
  p->trapframe->kernel_trap = (uint64)usertrap;
  p->trapframe->kernel_hartid = r_tp();

  // sret goes to user mode (SPP=0) and turns interrupts on (SPIE=1).
  uint64 x = r_sstatus();
  x &= ~SSTATUS_SPP;
  x |= SSTATUS_SPIE;
  w_sstatus(x);
  w_sepc(p->trapframe->epc);

  // A nonzero ASID in satp also tells the trampoline to take the fast path.
  uint64 satp = MAKE_SATP(p->pagetable) | (user_asid[cpuid()] << SATP_ASID_SHIFT);
  uint64 fn = TRAMPOLINE + (userret - trampoline);
  ((void (*)(uint64))fn)(satp);
}

// Traps taken in supervisor mode, via kernelvec. Only interrupts are expected; an exception
// here is a kernel bug.
void
kerneltrap(void)
{
  // yield() may run other code that traps and overwrites these CSRs.
  uint64 sepc = r_sepc();
  uint64 sstatus = r_sstatus();
  uint64 scause = r_scause();

  if((sstatus & SSTATUS_SPP) == 0)
    panic("kerneltrap: not from supervisor mode");
  if(intr_get())
    panic("kerneltrap: interrupts enabled");

  if((scause & SCAUSE_INTR) == 0){
    printf("kerneltrap: %s: scause 0x%lx sepc 0x%lx stval 0x%lx\n",
           exception_name(scause), scause, sepc, r_stval());
    panic("kerneltrap");
  }

  enum intrkind kind = devintr(scause);
  if(kind == INTR_NONE)
    printf("kerneltrap: unexpected interrupt scause 0x%lx\n", scause);

  if(kind == INTR_TIMER && myproc() != 0)
    yield();

  w_sepc(sepc);
  w_sstatus(sstatus);
}
