// Kernel initialisation order: the boot hart sets up every subsystem, then wakes the
// other harts through SBI HSM; every hart finally enters its scheduler.
#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/memlayout.h"
#include "kernel/riscv.h"
#include "kernel/spinlock.h"
#include "kernel/proc.h"
#include "kernel/defs.h"

// SBI HSM hart_get_status() value for a hart that is waiting to be started.
#define SBI_HSM_STATE_STOPPED 1

extern char _entry_secondary[];   // entry.S

// Set by the boot hart once all shared state is initialised; secondary harts
// spin on it and must see every earlier store, hence the fences around it.
static volatile int started = 0;

static void
start_other_harts(void)
{
  int me = cpuid();
  for(int id = 0; id < NCPU; id++){
    if(id == me)
      continue;
    if(sbi_hart_get_status(id) != SBI_HSM_STATE_STOPPED)
      continue;   // absent (error) or already running
    if(sbi_hart_start(id, (uint64)_entry_secondary, 0) != 0)
      printf("main: could not start hart %d\n", id);
  }
}

static void
boot_hart_init(void)
{
  consoleinit();
  printfinit();
  printf("\n");
  printf("xv6-cow kernel is booting on hart %d\n", cpuid());
  printf("\n");
  kinit();             // physical page allocator
  kvminit();           // kernel page table
  kvminithart();       // paging on
  procinit();          // process table
  trapinit();          // tick lock
  trapinithart();      // kernel trap vector
  plicinit();          // interrupt priorities
  plicinithart();      // this hart's interrupt enables
  binit();             // buffer cache
  iinit();             // inode table
  fileinit();          // file table
  virtio_disk_init();  // disk
  userinit();          // first user process
  timerinit();         // this hart's clock

  __sync_synchronize();
  started = 1;
  start_other_harts();
}

static void
secondary_hart_init(void)
{
  while(started == 0)
    ;
  __sync_synchronize();
  kvminithart();
  trapinithart();
  plicinithart();
  timerinit();
}

// start() calls main() on every hart with interrupts off; boot is 1 only on
// the hart OpenSBI entered the kernel on.
void
main(int boot)
{
  if(boot)
    boot_hart_init();
  else
    secondary_hart_init();

  printf("hart %d starting\n", cpuid());
  scheduler();
}
